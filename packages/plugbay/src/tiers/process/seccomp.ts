/**
 * A seccomp deny-list as a classic BPF program, written by hand (no npm library generates one correctly). bubblewrap
 * loads it (`--seccomp <fd>`) just before it executes the plugin, after it has built the sandbox's namespaces and
 * mounts. Layout: check `seccomp_data.arch` (x86_64 or aarch64, anything else is killed), load the syscall number
 * (x32 numbers on x86_64 are killed), compare against the arch's deny table (EPERM), check clone's flags and
 * personality's value, answer clone3 with ENOSYS, allow the rest.
 */
import {
  allowedPersonalities,
  argCheckedSyscalls,
  cloneNamespaceFlags,
  deniedSyscalls,
  type SeccompArch,
  seccompArches,
  x32SyscallBit,
} from './seccomp-tables.js';

// linux/filter.h (classic BPF) opcodes used here
export const bpf = {
  LD_W_ABS: 0x20, // A = u32 at seccomp_data[k]
  JMP_JA: 0x05, // pc += k
  JEQ_K: 0x15, // pc += A == k ? jt : jf
  JSET_K: 0x45, // pc += A & k ? jt : jf
  RET_K: 0x06, // return k
} as const;

// linux/seccomp.h
export const seccompRet = {
  KILL_PROCESS: 0x80000000,
  ERRNO: 0x00050000,
  ALLOW: 0x7fff0000,
} as const;

/** struct seccomp_data offsets: int nr; u32 arch; u64 instruction_pointer; u64 args[6] (little-endian). */
export const seccompData = {
  nr: 0,
  arch: 4,
  /** The low 32 bits of args[i] (both tables are little-endian architectures). */
  argLow: (i: number) => 16 + 8 * i,
} as const;

const EPERM = 1;
const ENOSYS = 38;

type Target = string | 0;
interface Pending {
  code: number;
  jt: Target;
  jf: Target;
  k: number;
  /** BPF_JA: k is the distance to this label. */
  ja?: string;
}

/** A tiny assembler: forward jumps to named labels, resolved (and range-checked) at the end. */
class Assembler {
  readonly #insns: Pending[] = [];
  readonly #labels = new Map<string, number>();

  label(name: string): void {
    if (this.#labels.has(name)) throw new Error(`label ${name} defined twice`);
    this.#labels.set(name, this.#insns.length);
  }
  load(offset: number): void {
    this.#insns.push({ code: bpf.LD_W_ABS, jt: 0, jf: 0, k: offset });
  }
  jeq(k: number, jt: Target, jf: Target = 0): void {
    this.#insns.push({ code: bpf.JEQ_K, jt, jf, k });
  }
  jset(k: number, jt: Target, jf: Target = 0): void {
    this.#insns.push({ code: bpf.JSET_K, jt, jf, k });
  }
  jump(to: string): void {
    this.#insns.push({ code: bpf.JMP_JA, jt: 0, jf: 0, k: 0, ja: to });
  }
  ret(k: number): void {
    this.#insns.push({ code: bpf.RET_K, jt: 0, jf: 0, k });
  }

  /** struct sock_filter[]: u16 code, u8 jt, u8 jf, u32 k, little-endian. */
  encode(): Buffer {
    const out = Buffer.alloc(this.#insns.length * 8);
    this.#insns.forEach((insn, i) => {
      const offset = (target: Target): number => {
        if (target === 0) return 0;
        const at = this.#labels.get(target);
        if (at === undefined) throw new Error(`undefined label ${target}`);
        const delta = at - (i + 1);
        if (delta < 0) throw new Error(`label ${target} is behind instruction ${i} (BPF jumps forward only)`);
        return delta;
      };
      const k = insn.ja === undefined ? insn.k : offset(insn.ja);
      const jt = offset(insn.jt);
      const jf = offset(insn.jf);
      if (jt > 255 || jf > 255) throw new Error(`conditional jump at ${i} too far (${jt}/${jf})`);
      out.writeUInt16LE(insn.code, i * 8);
      out.writeUInt8(jt, i * 8 + 2);
      out.writeUInt8(jf, i * 8 + 3);
      out.writeUInt32LE(k >>> 0, i * 8 + 4);
    });
    if (this.#insns.length > 4096) throw new Error('seccomp program longer than BPF_MAXINSNS');
    return out;
  }
}

/** The seccomp architecture of a Node `process.arch`, or undefined when there is no table for it. */
export function seccompArchOf(nodeArch: string = process.arch): SeccompArch | undefined {
  for (const [arch, info] of Object.entries(seccompArches))
    if (info.node === nodeArch) return arch as SeccompArch;
  return undefined;
}

/** Names of the syscalls denied on `arch` (for reports and docs). */
export function deniedNames(arch: SeccompArch): string[] {
  return Object.entries(deniedSyscalls)
    .filter(([, nr]) => nr[arch] !== undefined)
    .map(([name]) => name);
}

let program: Buffer | undefined;

/** The filter for every architecture with a table (the running one picks its branch by seccomp_data.arch). */
export function seccompProgram(): Buffer {
  if (program !== undefined) return program;
  const a = new Assembler();
  const arches = Object.keys(seccompArches) as SeccompArch[];
  a.load(seccompData.arch);
  for (const arch of arches) a.jeq(seccompArches[arch].audit, arch);
  a.ret(seccompRet.KILL_PROCESS); // an architecture without a table, e.g. i386 via int 0x80 on x86_64

  for (const arch of arches) {
    a.label(arch);
    a.load(seccompData.nr);
    if (arch === 'x86_64') a.jset(x32SyscallBit, 'kill');
    for (const nr of Object.values(deniedSyscalls)) {
      const n = nr[arch];
      if (n !== undefined) a.jeq(n, 'eperm');
    }
    a.jeq(argCheckedSyscalls.clone3[arch], 'enosys');
    a.jeq(argCheckedSyscalls.clone[arch], 'clone');
    a.jeq(argCheckedSyscalls.personality[arch], 'personality');
    a.jump('allow');
  }

  // The argument checks are the same on both architectures (flags and persona are the first argument).
  a.label('clone');
  a.load(seccompData.argLow(0));
  a.jset(cloneNamespaceFlags, 'eperm', 'allow');
  a.label('personality');
  a.load(seccompData.argLow(0));
  for (const value of allowedPersonalities) a.jeq(value, 'allow');
  a.jump('eperm');

  a.label('allow');
  a.ret(seccompRet.ALLOW);
  a.label('eperm');
  a.ret(seccompRet.ERRNO | EPERM);
  a.label('enosys');
  a.ret(seccompRet.ERRNO | ENOSYS);
  a.label('kill');
  a.ret(seccompRet.KILL_PROCESS);
  program = a.encode();
  return program;
}
