// node:test runs a test's after hooks in the order they were added, and one that fails skips the rest. The helpers
// that make something for a test (a temp folder, a child process, a registry) give its undoing to `cleanup`
// instead: the steps run newest first, like Go's t.Cleanup (a process stops before the folder it writes in is
// removed), and every step runs even when one fails.
import type { TestContext } from 'node:test';

const stacks = new WeakMap<object, (() => unknown)[]>();

/** Runs `undo` when the test ends, before whatever the test's helpers made earlier is undone. */
export function cleanup(t: Pick<TestContext, 'after'>, undo: () => unknown): void {
  let steps = stacks.get(t);
  if (steps === undefined) {
    const stack: (() => unknown)[] = [];
    stacks.set(t, stack);
    t.after(async () => {
      const errors: unknown[] = [];
      for (const step of stack.reverse()) {
        try {
          await step();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new AggregateError(errors, 'cleanup steps failed');
    });
    steps = stack;
  }
  steps.push(undo);
}
