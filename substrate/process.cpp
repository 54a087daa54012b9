// The only translation unit that includes Boost.Process (it is heavy to compile).
#include "substrate/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/env.hpp>
#include <boost/process/environment.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <boost/process/pipe.hpp>
#include <boost/process/search_path.hpp>
#include <boost/process/start_dir.hpp>
#include <fmt/format.h>

namespace bp = boost::process;

namespace fab {
namespace {

// Process groups of running children, for kill_all_children() (which may run in a signal handler).
constexpr std::size_t kMaxTracked = 256;
std::array<std::atomic<pid_t>, kMaxTracked> g_running{};
// A child run_process started but could not track: kill_orphans() cannot tell its own children from
// adopted ones any more, and kills none.
std::atomic<bool> g_track_overflow{false};
// Launches in progress (between fork and track()), and how many have begun: kill_orphans() lists
// children only while none is in progress, so a child just forked is never taken for an orphan.
std::atomic<int> g_launching{0};
std::atomic<unsigned> g_launches{0};

void track(pid_t pid) {
  for (auto& slot : g_running) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pid)) return;
  }
  g_track_overflow.store(true);
}
void untrack(pid_t pid) {
  for (auto& slot : g_running) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// pipe2 with O_CLOEXEC, so that one child never inherits another child's pipes (which would keep
// them open and delay EOF); dup2 onto 0/1/2 in the child clears the flag for the ends it needs.
Result<std::pair<int, int>> cloexec_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return fail_internal(fmt::format("cannot create a pipe: {}", std::strerror(errno)));
  }
  return std::pair{fds[0], fds[1]};
}

}  // namespace

std::string ProcessResult::describe() const {
  if (timed_out) {
    const auto ms = timeout.count();
    if (ms % 1000 == 0) return fmt::format("timed out after {} s", ms / 1000);
    return fmt::format("timed out after {:g} s", static_cast<double>(ms) / 1000.0);
  }
  if (signal != 0) {
    const char* name = ::strsignal(signal);
    return fmt::format("killed by signal {} ({})", signal, name ? name : "unknown");
  }
  return fmt::format("exited with status {}", exit_code);
}

std::filesystem::path find_on_path(const std::string& name) {
  auto p = bp::search_path(name);
  return p.empty() ? std::filesystem::path{} : std::filesystem::path(p.string());
}

std::vector<std::string> exec_argv_of(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  char head[2] = {0, 0};
  if (!f.read(head, 2) || head[0] != '#' || head[1] != '!') return {path.string()};
  constexpr std::string_view kMarker = "# fab-exec: ";
  for (std::string line; std::getline(f, line);) {
    if (line.rfind(kMarker, 0) != 0) continue;
    std::vector<std::string> argv;
    std::istringstream fields(line.substr(kMarker.size()));
    for (std::string field; std::getline(fields, field, '\t');) argv.push_back(field);
    std::error_code ec;
    if (argv.size() < 4 || !std::filesystem::exists(argv[0], ec) || !std::filesystem::exists(argv[3], ec)) break;
    return argv;
  }
  return {path.string()};
}

namespace {

// True once `pid` (a child of this process) has ended: it is a zombie, or already reaped by the
// run_process call that started it. Does not reap it (WNOWAIT): that call still does.
// `exited_itself`: it called exit (CLD_EXITED), rather than being killed by a signal.
bool child_ended(pid_t pid, bool* exited_itself = nullptr) noexcept {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return errno != EINTR;
  if (exited_itself != nullptr) *exited_itself = info.si_code == CLD_EXITED;
  return info.si_pid == pid;
}

long long monotonic_ms() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<long long>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

void sleep_ms(long ms) noexcept {
  timespec pause{0, ms * 1000 * 1000};
  ::nanosleep(&pause, nullptr);
}

// The parent of process `pid` (from /proc/<pid>/stat: "pid (comm) S ppid ..."), or -1, and whether
// it is a zombie. `pid` is the digits of its /proc entry. Async-signal-safe.
pid_t parent_of(const char* pid, bool& zombie) noexcept {
  char path[64] = "/proc/";
  std::size_t n = 6;
  for (const char* c = pid; *c != '\0' && n < sizeof path - 6; ++c) path[n++] = *c;
  std::memcpy(path + n, "/stat", 6);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[1024];
  const ssize_t got = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (got <= 0) return -1;
  const char* close = nullptr;  // the comm may hold ')' itself: the last one ends it
  for (ssize_t i = 0; i < got; ++i) {
    if (buf[i] == ')') close = buf + i;
  }
  if (close == nullptr || close + 4 >= buf + got) return -1;
  zombie = close[2] == 'Z';
  pid_t ppid = 0;
  for (const char* c = close + 4; c < buf + got && *c >= '0' && *c <= '9'; ++c) ppid = ppid * 10 + (*c - '0');
  return ppid;
}

// Up to `cap` children of this process (and whether each has ended already), found by scanning
// /proc (the /proc/<pid>/task/<tid>/children files would be quicker but need CONFIG_PROC_CHILDREN,
// which not every kernel has). Raw getdents64, so that it is async-signal-safe.
std::size_t list_children(pid_t* out, bool* ended, std::size_t cap) noexcept {
  const int dir = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return 0;
  const pid_t self = ::getpid();
  std::size_t n = 0;
  alignas(8) char buf[8192];
  for (;;) {
    const long got = ::syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (got <= 0) break;
    for (long at = 0; at < got;) {
      const auto* entry = reinterpret_cast<const dirent64*>(buf + at);
      at += entry->d_reclen;
      const char* name = entry->d_name;
      if (name[0] < '1' || name[0] > '9') continue;  // not a process
      bool zombie = false;
      if (parent_of(name, zombie) != self || n >= cap) continue;
      pid_t pid = 0;
      for (const char* c = name; *c >= '0' && *c <= '9'; ++c) pid = pid * 10 + (*c - '0');
      ended[n] = zombie;
      out[n++] = pid;
    }
  }
  ::close(dir);
  return n;
}

}  // namespace

void kill_all_children(std::chrono::milliseconds grace) noexcept {
  // Only async-signal-safe calls from here on: kill, waitid, clock_gettime, nanosleep.
  const int saved_errno = errno;
  pid_t groups[kMaxTracked];
  bool ended[kMaxTracked];
  std::size_t n = 0;
  for (auto& slot : g_running) {
    const pid_t pid = slot.load();
    if (pid > 0) {
      groups[n] = pid;
      ended[n] = false;
      ++n;
      ::kill(-pid, SIGTERM);
    }
  }
  if (n == 0) {
    errno = saved_errno;
    return;
  }
  const long long deadline = monotonic_ms() + grace.count();
  for (;;) {
    bool all_ended = true;
    for (std::size_t i = 0; i < n; ++i) {
      if (!ended[i]) ended[i] = child_ended(groups[i]);
      all_ended = all_ended && ended[i];
    }
    if (all_ended || monotonic_ms() >= deadline) break;
    sleep_ms(10);
  }
  // Whatever is left in the groups (a child that ignored SIGTERM, what it started in its group).
  for (std::size_t i = 0; i < n; ++i) ::kill(-groups[i], SIGKILL);
  errno = saved_errno;
}

void become_subreaper() noexcept {
  static std::atomic<bool> done{false};
  if (!done.exchange(true)) ::prctl(PR_SET_CHILD_SUBREAPER, 1);
}

int kill_orphans(std::chrono::milliseconds limit) noexcept {
  const int saved_errno = errno;
  if (g_track_overflow.load()) return 0;
  const long long deadline = monotonic_ms() + limit.count();
  constexpr std::size_t kCap = 1024;
  pid_t orphans[kCap];
  bool ended[kCap];
  pid_t ours[kMaxTracked];
  int killed = 0;
  while (monotonic_ms() < deadline) {
    // The children run_process waits for, taken before the list: one of them that ends and is
    // reaped meanwhile is not taken for an orphan (its pid could be reused by then). A child forked
    // meanwhile is not tracked yet: a launch in progress, or one begun since, means a new list.
    const unsigned launches = g_launches.load();
    if (g_launching.load() != 0) {
      sleep_ms(1);
      continue;
    }
    std::size_t n_ours = 0;
    for (const auto& slot : g_running) {
      if (const pid_t pid = slot.load(); pid > 0) ours[n_ours++] = pid;
    }
    const std::size_t n = list_children(orphans, ended, kCap);
    if (g_launching.load() != 0 || g_launches.load() != launches) continue;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
      bool mine = false;
      for (std::size_t j = 0; j < n_ours && !mine; ++j) mine = ours[j] == orphans[i];
      if (mine) continue;
      ended[kept] = ended[i];
      orphans[kept++] = orphans[i];
    }
    if (kept == 0) break;
    // Only this function reaps an orphan, so its pid stays its own until the waitpid below.
    for (std::size_t i = 0; i < kept; ++i) {
      if (!ended[i] && ::kill(orphans[i], SIGKILL) == 0) ++killed;  // a zombie only needs reaping
    }
    // Reap them: each one's own orphans are re-parented here before it can be reaped, so the next
    // round sees them.
    for (std::size_t i = 0; i < kept; ++i) {
      int status = 0;
      while (::waitpid(orphans[i], &status, WNOHANG) == 0 && monotonic_ms() < deadline) sleep_ms(1);
    }
  }
  errno = saved_errno;
  return killed;
}

SupervisedEnd run_supervised(const std::function<void()>& work, std::chrono::milliseconds grace) {
  become_subreaper();
  sigset_t stop, old;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &stop, &old);  // taken with sigtimedwait below, never by a handler
  const pid_t supervisor = ::getpid();
  const pid_t worker = ::fork();
  if (worker == 0) {
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != supervisor) ::_exit(127);
    work();
    ::_exit(0);
  }
  SupervisedEnd end;
  if (worker < 0) {
    end.wait_status = 127 << 8;
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    return end;
  }
  long long kill_at = -1;
  for (;;) {
    if (::waitpid(worker, &end.wait_status, WNOHANG) == worker) break;
    const timespec tick{0, 50 * 1000 * 1000};
    const int sig = ::sigtimedwait(&stop, nullptr, &tick);
    if ((sig == SIGTERM || sig == SIGINT) && kill_at < 0) {
      ::kill(worker, SIGTERM);  // its own handler (the shell agent's) stops what it runs
      kill_at = monotonic_ms() + grace.count();
    }
    if (kill_at >= 0 && monotonic_ms() >= kill_at) ::kill(worker, SIGKILL);
  }
  end.left_behind = kill_orphans();
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  return end;
}

void exit_like(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    ::signal(sig, SIG_DFL);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, sig);
    ::sigprocmask(SIG_UNBLOCK, &only, nullptr);
    ::prctl(PR_SET_DUMPABLE, 0);  // the worker dumped its core already, if any
    ::raise(sig);
    ::_exit(128 + sig);
  }
  ::_exit(WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 1);
}

void write_fully(int fd, std::string_view text) noexcept {
  while (!text.empty()) {
    const ssize_t put = ::write(fd, text.data(), text.size());
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(put));
  }
}

std::string with_size_note(std::string text, std::size_t total) {
  if (total <= text.size()) return text;
  std::size_t from = 0;  // a cut in the middle of a UTF-8 character: start at the next one
  while (from < text.size() && from < 3 && (static_cast<unsigned char>(text[from]) & 0xC0) == 0x80) ++from;
  text.erase(0, from);
  auto mib = [](std::size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); };
  return fmt::format("[fab: {} bytes ({:.1f} MiB) were printed; only the last {} bytes ({:.1f} MiB) are kept]\n",
                     total, mib(total), text.size(), mib(text.size())) +
         text;
}

std::string tail_with_note(const std::string& text, std::size_t limit) {
  if (text.size() <= limit) return text;
  return with_size_note(text.substr(text.size() - limit), text.size());
}

namespace {

bp::environment inherited_environment(const ProcessSpec& spec) {
  bp::environment all = boost::this_process::environment();
  if (!spec.env_keep) return all;
  bp::environment env;
  for (const auto& name : *spec.env_keep) {
    if (const auto it = all.find(name); it != all.end()) env[name] = it->to_string();
  }
  return env;
}

bp::environment child_environment(const ProcessSpec& spec) {
  bp::environment env = inherited_environment(spec);
  for (const auto& name : spec.env_remove) env.erase(name);
  for (const auto& [k, v] : spec.env) env[k] = v;
  return env;
}

// What one stream keeps (its OutputLimit), and how many bytes came.
struct Capture {
  std::string& text;
  std::size_t& total;
  std::size_t limit;
  bool keep_tail;
  Capture(std::string& t, std::size_t& n, const OutputLimit& l) : text(t), total(n), limit(l.bytes), keep_tail(l.keep_tail) {}
  void add(const char* data, std::size_t n) {
    total += n;
    if (!keep_tail) {
      if (text.size() < limit) text.append(data, std::min(n, limit - text.size()));
      return;
    }
    text.append(data, n);
    if (text.size() > 2 * limit) text.erase(0, text.size() - limit);  // amortised: at most once per limit bytes
  }
  void finish() {
    if (keep_tail && text.size() > limit) text.erase(0, text.size() - limit);
  }
};

}  // namespace

Result<ProcessResult> run_process(const ProcessSpec& spec) {
  if (spec.argv.empty()) return fail_internal("run_process: empty argv");
  // A child that stops reading its input must not kill us with SIGPIPE.
  static const bool sigpipe_ignored = (::signal(SIGPIPE, SIG_IGN), true);
  (void)sigpipe_ignored;
  if (spec.reap_orphans) become_subreaper();
  const auto started = std::chrono::steady_clock::now();

  std::filesystem::path exe = spec.argv[0];
  if (exe.filename() == exe) {
    exe = find_on_path(spec.argv[0]);
    if (exe.empty()) {
      return fail(fmt::format("cannot run '{}': not found on PATH", spec.argv[0]));
    }
  }
  std::vector<std::string> args(spec.argv.begin() + 1, spec.argv.end());
  bp::environment env = child_environment(spec);

  FAB_TRY_ASSIGN(auto out_p, cloexec_pipe());
  FAB_TRY_ASSIGN(auto err_p, cloexec_pipe());
  bp::pipe out_pipe(out_p.first, out_p.second);
  bp::pipe err_pipe(err_p.first, err_p.second);
  Fd out_r, err_r;  // the read ends, taken from the pipes after launch

  std::optional<bp::pipe> in_pipe;
  if (spec.stdin_data) {
    FAB_TRY_ASSIGN(auto in_p, cloexec_pipe());
    in_pipe.emplace(in_p.first, in_p.second);
  }

  const pid_t parent = ::getpid();
  const int death_signal = spec.parent_death_signal;
  auto setpgid_hook = bp::extend::on_exec_setup = [parent, death_signal](auto&) {
    ::setpgid(0, 0);
    // fab ignores SIGPIPE (and a thread may block signals): the child starts as a shell would, so
    // that `yes | head -1` ends quietly instead of printing "Broken pipe".
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (death_signal != 0) {
      ::prctl(PR_SET_PDEATHSIG, death_signal);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl: nobody waits for us
    }
  };
  std::error_code ec;
  bp::child child;
  const std::string cwd = spec.cwd.empty() ? std::filesystem::current_path().string() : spec.cwd.string();
  g_launching.fetch_add(1);
  g_launches.fetch_add(1);
  try {
    if (in_pipe) {
      child = bp::child(bp::exe = exe.string(), bp::args = args, bp::start_dir = cwd, env,
                        bp::std_out > out_pipe, bp::std_err > err_pipe, bp::std_in < *in_pipe,
                        setpgid_hook, ec);
    } else {
      child = bp::child(bp::exe = exe.string(), bp::args = args, bp::start_dir = cwd, env,
                        bp::std_out > out_pipe, bp::std_err > err_pipe, bp::std_in < bp::null,
                        setpgid_hook, ec);
    }
  } catch (const std::exception& e) {
    g_launching.fetch_sub(1);
    return fail(fmt::format("cannot run '{}': {}", spec.argv[0], e.what()));
  }
  if (ec) {
    g_launching.fetch_sub(1);
    Error e(fmt::format("cannot run '{}': {}", spec.argv[0], ec.message()));
    if (ec.category() == std::system_category() || ec.category() == std::generic_category()) e.os_error = ec.value();
    return fail(std::move(e));
  }
  const pid_t pid = child.id();
  child.detach();  // we reap it ourselves below
  track(pid);
  g_launching.fetch_sub(1);

  // Take ownership of the read ends (the parent's write ends were closed by the launch).
  out_r.fd = ::dup(out_pipe.native_source());
  err_r.fd = ::dup(err_pipe.native_source());
  out_pipe.close();
  err_pipe.close();
  ::fcntl(out_r.fd, F_SETFD, FD_CLOEXEC);
  ::fcntl(err_r.fd, F_SETFD, FD_CLOEXEC);

  Fd in_w;
  std::string_view to_write;
  if (in_pipe) {
    in_w.fd = ::dup(in_pipe->native_sink());
    in_pipe->close();
    ::fcntl(in_w.fd, F_SETFD, FD_CLOEXEC);
    ::fcntl(in_w.fd, F_SETFL, O_NONBLOCK);
    to_write = *spec.stdin_data;
    if (to_write.empty()) in_w.reset();
  }

  ProcessResult result;
  result.timeout = spec.timeout;
  using clock = std::chrono::steady_clock;
  const auto deadline = spec.timeout.count() > 0 ? started + spec.timeout : clock::time_point::max();
  clock::time_point kill_at = clock::time_point::max();
  bool exited = false;
  clock::time_point exited_at{};
  char buf[65536];
  Capture out_capture(result.out, result.out_bytes, spec.out_limit);
  Capture err_capture(result.err, result.err_bytes, spec.err_limit);

  while (true) {
    bool exited_itself = false;
    if (!exited && child_ended(pid, &exited_itself)) {
      // Still a zombie (not reaped), so its pid, the group's id, cannot be reused: whatever is
      // left in its group, and with reap_orphans whatever escaped it, ends with it.
      exited = true;
      exited_at = clock::now();
      ::kill(-pid, SIGKILL);
      if (spec.reap_orphans && (!exited_itself || result.timed_out)) kill_orphans();
    }
    const bool pipes_open = out_r.fd >= 0 || err_r.fd >= 0;
    if (exited && !pipes_open) break;
    // A process outside its group (and not adopted) may keep the pipes open: give it a moment.
    if (exited && clock::now() - exited_at > std::chrono::milliseconds(200)) break;

    auto now = clock::now();
    if (!result.timed_out && now >= deadline) {
      result.timed_out = true;
      ::kill(-pid, spec.timeout_signal);
      kill_at = now + spec.kill_grace;
    }
    if (result.timed_out && now >= kill_at) {
      ::kill(-pid, SIGKILL);
      kill_at = clock::time_point::max();
    }

    std::array<pollfd, 3> pfds{};
    nfds_t n = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (out_r.fd >= 0) { pfds[n] = {out_r.fd, POLLIN, 0}; out_i = static_cast<int>(n++); }
    if (err_r.fd >= 0) { pfds[n] = {err_r.fd, POLLIN, 0}; err_i = static_cast<int>(n++); }
    if (in_w.fd >= 0) { pfds[n] = {in_w.fd, POLLOUT, 0}; in_i = static_cast<int>(n++); }
    int wait_ms = exited ? 10 : 50;  // waitpid is polled; SIGCHLD is left to whoever else owns it
    if (n == 0) {
      ::usleep(2000);
      continue;
    }
    int rc = ::poll(pfds.data(), n, wait_ms);
    if (rc < 0 && errno != EINTR) break;
    if (rc <= 0) continue;
    auto drain = [&](int idx, Fd& fd, Capture& capture, Stream stream) {
      if (idx < 0 || !(pfds[static_cast<std::size_t>(idx)].revents & (POLLIN | POLLHUP | POLLERR))) return;
      ssize_t got = ::read(fd.fd, buf, sizeof buf);
      if (got > 0) {
        const auto size = static_cast<std::size_t>(got);
        if (spec.on_output) spec.on_output(stream, std::string_view(buf, size));
        capture.add(buf, size);
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        fd.reset();
      }
    };
    drain(out_i, out_r, out_capture, Stream::out);
    drain(err_i, err_r, err_capture, Stream::err);
    if (in_i >= 0 && (pfds[static_cast<std::size_t>(in_i)].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t put = ::write(in_w.fd, to_write.data(), to_write.size());
      if (put > 0) {
        to_write.remove_prefix(static_cast<std::size_t>(put));
        if (to_write.empty()) in_w.reset();
      } else if (put < 0 && errno != EAGAIN && errno != EINTR) {
        in_w.reset();  // EPIPE: the child does not read its input
      }
    }
  }
  out_capture.finish();
  err_capture.finish();
  if (!exited) ::kill(-pid, SIGKILL);  // the loop ended early (poll failed): nothing may outlive the call
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  untrack(pid);

  if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  } else if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  result.duration = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - started);
  return result;
}

}  // namespace fab
