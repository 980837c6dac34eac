/**
 * Syscall numbers the seccomp filter denies, per architecture, as data. Checked against the kernel's uapi headers
 * (x86_64: asm/unistd_64.h; aarch64: asm-generic/unistd.h). The reference is Docker's default profile: what it
 * refuses to an unprivileged container, plus the new mount API and io_uring (which it also blocks).
 */

/** The architectures with a table: seccomp_data.arch values (linux/audit.h) and Node's `process.arch` names. */
export const seccompArches = {
  x86_64: { audit: 0xc000003e, node: 'x64' },
  aarch64: { audit: 0xc00000b7, node: 'arm64' },
} as const;

export type SeccompArch = keyof typeof seccompArches;

/** Denied outright (EPERM), grouped by why; `undefined` where the syscall does not exist on that architecture. */
export const deniedSyscalls: Record<string, Record<SeccompArch, number | undefined>> = {
  // reading or steering other processes
  ptrace: { x86_64: 101, aarch64: 117 },
  process_vm_readv: { x86_64: 310, aarch64: 270 },
  process_vm_writev: { x86_64: 311, aarch64: 271 },
  kcmp: { x86_64: 312, aarch64: 272 },
  pidfd_getfd: { x86_64: 438, aarch64: 438 },
  // mounts and namespaces (bubblewrap has set them up before the filter applies)
  mount: { x86_64: 165, aarch64: 40 },
  umount2: { x86_64: 166, aarch64: 39 },
  pivot_root: { x86_64: 155, aarch64: 41 },
  chroot: { x86_64: 161, aarch64: 51 },
  open_tree: { x86_64: 428, aarch64: 428 },
  move_mount: { x86_64: 429, aarch64: 429 },
  fsopen: { x86_64: 430, aarch64: 430 },
  fsconfig: { x86_64: 431, aarch64: 431 },
  fsmount: { x86_64: 432, aarch64: 432 },
  fspick: { x86_64: 433, aarch64: 433 },
  mount_setattr: { x86_64: 442, aarch64: 442 },
  unshare: { x86_64: 272, aarch64: 97 },
  setns: { x86_64: 308, aarch64: 268 },
  // loading code into the kernel
  init_module: { x86_64: 175, aarch64: 105 },
  finit_module: { x86_64: 313, aarch64: 273 },
  delete_module: { x86_64: 176, aarch64: 106 },
  kexec_load: { x86_64: 246, aarch64: 104 },
  kexec_file_load: { x86_64: 320, aarch64: 294 },
  bpf: { x86_64: 321, aarch64: 280 },
  uselib: { x86_64: 134, aarch64: undefined },
  // large kernel attack surface, rarely needed by a plugin
  perf_event_open: { x86_64: 298, aarch64: 241 },
  userfaultfd: { x86_64: 323, aarch64: 282 },
  io_uring_setup: { x86_64: 425, aarch64: 425 },
  io_uring_enter: { x86_64: 426, aarch64: 426 },
  io_uring_register: { x86_64: 427, aarch64: 427 },
  lookup_dcookie: { x86_64: 212, aarch64: 18 },
  // the kernel keyring is not namespaced
  keyctl: { x86_64: 250, aarch64: 219 },
  add_key: { x86_64: 248, aarch64: 217 },
  request_key: { x86_64: 249, aarch64: 218 },
  // file handles bypass path-based confinement
  open_by_handle_at: { x86_64: 304, aarch64: 265 },
  name_to_handle_at: { x86_64: 303, aarch64: 264 },
  // machine-wide state: power, swap, accounting, clocks, quotas, kernel log, terminals
  reboot: { x86_64: 169, aarch64: 142 },
  swapon: { x86_64: 167, aarch64: 224 },
  swapoff: { x86_64: 168, aarch64: 225 },
  acct: { x86_64: 163, aarch64: 89 },
  settimeofday: { x86_64: 164, aarch64: 170 },
  clock_settime: { x86_64: 227, aarch64: 112 },
  clock_adjtime: { x86_64: 305, aarch64: 266 },
  adjtimex: { x86_64: 159, aarch64: 171 },
  quotactl: { x86_64: 179, aarch64: 60 },
  quotactl_fd: { x86_64: 443, aarch64: 443 },
  syslog: { x86_64: 103, aarch64: 116 },
  vhangup: { x86_64: 153, aarch64: 58 },
  // x86 I/O port access (no such calls on aarch64)
  iopl: { x86_64: 172, aarch64: undefined },
  ioperm: { x86_64: 173, aarch64: undefined },
};

/** Syscalls checked by argument rather than denied outright. */
export const argCheckedSyscalls = {
  /** Denied when its flags ask for a new namespace; thread and fork flags pass. */
  clone: { x86_64: 56, aarch64: 220 },
  /** Only the personalities Docker allows: Linux, PER_LINUX32, UNAME26 (and both), and the 0xffffffff query. */
  personality: { x86_64: 135, aarch64: 92 },
  /**
   * Fails with ENOSYS: its flags sit in a struct that seccomp cannot read, so it cannot be checked like clone;
   * glibc and others fall back to clone on ENOSYS (Docker and Flatpak do the same).
   */
  clone3: { x86_64: 435, aarch64: 435 },
} as const satisfies Record<string, Record<SeccompArch, number>>;

/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (linux/sched.h). */
export const cloneNamespaceFlags = 0x7e020000;

/** personality() values that pass. */
export const allowedPersonalities = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/** On x86_64, syscall numbers with this bit are the x32 ABI: another table, so it is refused as a whole. */
export const x32SyscallBit = 0x40000000;
