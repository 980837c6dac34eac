// Test fixture for seccomp.test.ts (compiled with clang at test time): tries syscalls plugbay's seccomp filter
// denies and some it allows, and prints "name ok" or "name ERRNO" per line. Modes: probe (default), x32 (a syscall
// with the x32 ABI bit), i386 (int 0x80 on x86_64).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *name, long rc) {
  if (rc < 0) printf("%s %s\n", name, strerrorname_np(errno));
  else printf("%s ok\n", name);
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "probe";
  if (strcmp(mode, "x32") == 0) {
    long rc = syscall(0x40000000 | SYS_getpid);
    report("x32_getpid", rc);
    return 0;
  }
#if defined(__x86_64__)
  if (strcmp(mode, "i386") == 0) {
    long rc;
    __asm__ volatile("int $0x80" : "=a"(rc) : "a"(20) : "memory"); // i386 getpid
    printf("i386_getpid %s\n", rc > 0 ? "ok" : "error");
    return 0;
  }
#endif
  char buf[8] = "abcdefg", out[8];
  struct iovec local = {out, sizeof out}, remote = {buf, sizeof buf};
  // syscall() is variadic: an int argument leaves the upper half of its 64-bit register undefined, and the kernel
  // reads process_vm_readv's counts and flags as unsigned long (garbage there was an intermittent EINVAL).
  report("process_vm_readv", syscall(SYS_process_vm_readv, (long)getpid(), &local, 1L, &remote, 1L, 0L));
  long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid(pid, NULL, 0);
  report("clone_newuser", pid);
  report("unshare", syscall(SYS_unshare, CLONE_NEWUSER));
  report("setns", syscall(SYS_setns, open("/proc/self/ns/uts", O_RDONLY), 0));
  report("mount", syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL));
  report("umount2", syscall(SYS_umount2, "/tmp", 0));
  report("pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp"));
  report("fsopen", syscall(SYS_fsopen, "tmpfs", 0));
  report("bpf", syscall(SYS_bpf, 0, NULL, 0));
  report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
  report("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -2, 0));
  report("add_key", syscall(SYS_add_key, "user", "plugbay", "x", 1, -2));
  report("userfaultfd", syscall(SYS_userfaultfd, 0));
  report("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
  char handle[128] = {0};
  int mount_id;
  report("name_to_handle_at", syscall(SYS_name_to_handle_at, AT_FDCWD, "/", handle, &mount_id, 0));
  report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
  report("init_module", syscall(SYS_init_module, NULL, 0, ""));
  report("reboot", syscall(SYS_reboot, 0, 0, 0, NULL));
  report("swapon", syscall(SYS_swapon, "/nonexistent", 0));
  report("acct", syscall(SYS_acct, NULL));
  report("clock_settime", syscall(SYS_clock_settime, 0, NULL));
  report("syslog", syscall(SYS_syslog, 3, NULL, 0));
  report("personality_addr_no_randomize", syscall(SYS_personality, ADDR_NO_RANDOMIZE));
  report("clone3", syscall(SYS_clone3, NULL, 0L));
  report("ptrace", syscall(SYS_ptrace, 16L /* PTRACE_ATTACH */, 0x3fffffffL, 0L, 0L));
  // allowed
  report("getpid", syscall(SYS_getpid));
  report("personality_query", syscall(SYS_personality, 0xffffffff));
  int fd = open("/proc/self/status", O_RDONLY);
  report("open", fd);
  report("read", read(fd, out, sizeof out));
  pid_t child = fork();
  if (child == 0) _exit(7);
  int status = 0;
  waitpid(child, &status, 0);
  report("fork", child > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 7 ? 0 : -1);
  return 0;
}
