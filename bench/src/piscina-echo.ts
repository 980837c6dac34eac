// The peer: piscina runs the same echo function in its worker pool.
export default function echo(input: { text: string }): { text: string } {
  return { text: input.text };
}
