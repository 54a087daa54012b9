// The only translation unit that includes Boost.Process (it is heavy to compile).
#include "substrate/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>

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

void track(pid_t pid) {
  for (auto& slot : g_running) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pid)) return;
  }
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

namespace {

// True once `pid` (a child of this process) has ended: it is a zombie, or already reaped by the
// run_process call that started it. Does not reap it (WNOWAIT): that call still does.
bool child_ended(pid_t pid) noexcept {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return errno != EINTR;
  return info.si_pid == pid;
}

long long monotonic_ms() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<long long>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
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
    timespec pause{0, 10 * 1000 * 1000};
    ::nanosleep(&pause, nullptr);
  }
  // Whatever is left in the groups (a child that ignored SIGTERM, what it started in its group).
  for (std::size_t i = 0; i < n; ++i) ::kill(-groups[i], SIGKILL);
  errno = saved_errno;
}

Result<ProcessResult> run_process(const ProcessSpec& spec) {
  if (spec.argv.empty()) return fail_internal("run_process: empty argv");
  // A child that stops reading its input must not kill us with SIGPIPE.
  static const bool sigpipe_ignored = (::signal(SIGPIPE, SIG_IGN), true);
  (void)sigpipe_ignored;
  const auto started = std::chrono::steady_clock::now();

  std::filesystem::path exe = spec.argv[0];
  if (exe.filename() == exe) {
    exe = find_on_path(spec.argv[0]);
    if (exe.empty()) {
      return fail(fmt::format("cannot run '{}': not found on PATH", spec.argv[0]));
    }
  }
  std::vector<std::string> args(spec.argv.begin() + 1, spec.argv.end());

  bp::environment env = boost::this_process::environment();
  for (const auto& name : spec.env_remove) env.erase(name);
  for (const auto& [k, v] : spec.env) env[k] = v;

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
    if (death_signal != 0) {
      ::prctl(PR_SET_PDEATHSIG, death_signal);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl: nobody waits for us
    }
  };
  std::error_code ec;
  bp::child child;
  const std::string cwd = spec.cwd.empty() ? std::filesystem::current_path().string() : spec.cwd.string();
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
    return fail(fmt::format("cannot run '{}': {}", spec.argv[0], e.what()));
  }
  if (ec) {
    return fail(fmt::format("cannot run '{}': {}", spec.argv[0], ec.message()));
  }
  const pid_t pid = child.id();
  child.detach();  // we reap it ourselves below
  track(pid);

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
  int status = 0;
  clock::time_point exited_at{};
  char buf[65536];

  auto append = [&](std::string& dst, const char* data, ssize_t n) {
    if (dst.size() < spec.output_limit) {
      dst.append(data, std::min<std::size_t>(static_cast<std::size_t>(n), spec.output_limit - dst.size()));
    }
  };

  while (true) {
    if (!exited) {
      pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        exited = true;
        exited_at = clock::now();
      }
    }
    const bool pipes_open = out_r.fd >= 0 || err_r.fd >= 0;
    if (exited && !pipes_open) break;
    // A grandchild may keep the pipes open after the child exits: give it a moment, then stop.
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
    int wait_ms = 50;  // waitpid is polled; SIGCHLD is left to whoever else owns it
    if (n == 0) {
      ::usleep(2000);
      continue;
    }
    int rc = ::poll(pfds.data(), n, wait_ms);
    if (rc < 0 && errno != EINTR) break;
    if (rc <= 0) continue;
    auto drain = [&](int idx, Fd& fd, std::string& dst) {
      if (idx < 0 || !(pfds[static_cast<std::size_t>(idx)].revents & (POLLIN | POLLHUP | POLLERR))) return;
      ssize_t got = ::read(fd.fd, buf, sizeof buf);
      if (got > 0) {
        append(dst, buf, got);
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        fd.reset();
      }
    };
    drain(out_i, out_r, result.out);
    drain(err_i, err_r, result.err);
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
  if (!exited) {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  untrack(pid);
  ::kill(-pid, SIGKILL);  // nothing the child left running in its group outlives the call

  if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  } else if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  result.duration = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - started);
  return result;
}

}  // namespace fab
