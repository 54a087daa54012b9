#include <catch2/catch.hpp>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "substrate/process.h"
#include "tests/support/processes.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;

TEST_CASE("run_process captures stdout, stderr and the exit status", "[process]") {
  auto r = fab::run_process({.argv = {"sh", "-c", "echo out; echo err >&2; exit 3"}});
  REQUIRE(r);
  CHECK(r->out == "out\n");
  CHECK(r->err == "err\n");
  CHECK(r->exit_code == 3);
  CHECK_FALSE(r->ok());
  CHECK(r->describe() == "exited with status 3");
}

TEST_CASE("run_process feeds stdin and sets env and cwd", "[process]") {
  fab::test::TempDir dir;
  auto r = fab::run_process({.argv = {"sh", "-c", "cat; printf ' %s ' \"$FAB_X\"; pwd"},
                             .cwd = dir.path(),
                             .env = {{"FAB_X", "hello"}},
                             .stdin_data = std::string(200000, 'a')});
  REQUIRE(r);
  REQUIRE(r->ok());
  CHECK(r->out == std::string(200000, 'a') + " hello " + std::filesystem::canonical(dir.path()).string() + "\n");
}

TEST_CASE("run_process reports a signal death", "[process]") {
  auto r = fab::run_process({.argv = {"sh", "-c", "kill -SEGV $$"}});
  REQUIRE(r);
  CHECK(r->signal == SIGSEGV);
  CHECK(r->describe().rfind("killed by signal 11", 0) == 0);
}

TEST_CASE("run_process kills the whole group on timeout", "[process]") {
  fab::test::TempDir dir;
  auto marker = dir / "late";
  auto r = fab::run_process({.argv = {"sh", "-c", "(sleep 2; touch " + marker.string() + ") & sleep 30"},
                             .timeout = 300ms,
                             .kill_grace = 100ms});
  REQUIRE(r);
  CHECK(r->timed_out);
  CHECK(r->describe().find("timed out after") == 0);
  CHECK(r->duration < 5s);
  ::sleep(3);
  CHECK_FALSE(std::filesystem::exists(marker));  // the background grandchild died with the group
}

TEST_CASE("a timeout is reported as the limit given, not the time the kill took", "[process]") {
  // The child ignores SIGTERM, so it dies only at SIGKILL, a whole kill grace after the timeout:
  // measured, that is about 2 s; the limit was 1 s.
  auto r = fab::run_process({.argv = {"sh", "-c", "trap '' TERM; sleep 30"},
                             .timeout = 1000ms,
                             .kill_grace = 1000ms});
  REQUIRE(r);
  CHECK(r->timed_out);
  CHECK(r->timeout == 1000ms);
  CHECK(r->duration >= 1900ms);
  CHECK(r->describe() == "timed out after 1 s");

  auto fraction = fab::run_process({.argv = {"sh", "-c", "trap '' TERM; sleep 30"},
                                    .timeout = 250ms,
                                    .kill_grace = 900ms});
  REQUIRE(fraction);
  CHECK(fraction->duration >= 1100ms);
  CHECK(fraction->describe() == "timed out after 0.25 s");
}

TEST_CASE("run_process fails cleanly for a missing program", "[process]") {
  auto r = fab::run_process({.argv = {"fab-no-such-program-xyz"}});
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("not found on PATH") != std::string::npos);
  auto r2 = fab::run_process({.argv = {"/nonexistent/prog"}});
  REQUIRE_FALSE(r2);
}

TEST_CASE("a child gets SIGPIPE at its default and no signal blocked, whatever fab does", "[process]") {
  // This process ignores SIGPIPE (run_process sees to it) and, on this thread, blocks SIGTERM.
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  REQUIRE(::pthread_sigmask(SIG_BLOCK, &term, &old) == 0);
  // Ignored SIGPIPE would make `yes` print "yes: standard output: Broken pipe" and exit 1.
  auto pipe = fab::run_process({.argv = {"sh", "-c", "yes | head -1"}});
  // A blocked SIGTERM would leave the child sleeping.
  auto term_run = fab::run_process({.argv = {"sh", "-c", "kill -TERM $$; sleep 5"}});
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  REQUIRE(pipe);
  CHECK(pipe->ok());
  CHECK(pipe->out == "y\n");
  CHECK(pipe->err == "");
  REQUIRE(term_run);
  CHECK(term_run->signal == SIGTERM);
}

TEST_CASE("env_keep passes only the variables it names, then env_remove and env apply", "[process]") {
  ::setenv("FAB_TEST_KEEP", "kept", 1);
  ::setenv("FAB_TEST_DROP", "dropped", 1);
  auto r = fab::run_process({.argv = {"/usr/bin/env"},
                             .env = {{"FAB_TEST_SET", "set"}},
                             .env_remove = {"FAB_TEST_KEEP"},
                             .env_keep = std::vector<std::string>{"FAB_TEST_KEEP", "HOME", "FAB_TEST_NOT_THERE"}});
  auto all = fab::run_process({.argv = {"/usr/bin/env"}, .env_remove = {"FAB_TEST_DROP"}});
  ::unsetenv("FAB_TEST_KEEP");
  ::unsetenv("FAB_TEST_DROP");
  REQUIRE(r);
  // Exactly these: HOME kept, FAB_TEST_KEEP kept then removed, nothing else of this environment.
  std::vector<std::string> expected = {"FAB_TEST_SET=set"};
  if (const char* home = std::getenv("HOME")) expected.push_back("HOME=" + std::string(home));
  std::vector<std::string> got;
  std::istringstream lines(r->out);
  for (std::string l; std::getline(lines, l);) got.push_back(l);
  std::sort(got.begin(), got.end());
  std::sort(expected.begin(), expected.end());
  CHECK(got == expected);
  REQUIRE(all);
  CHECK(all->out.find("FAB_TEST_KEEP=kept\n") != std::string::npos);
  CHECK(all->out.find("FAB_TEST_DROP") == std::string::npos);
}

TEST_CASE("output past the limit keeps its head (data) or its tail (a transcript), and counts it all", "[process]") {
  const std::string cmd = "i=0; while [ $i -lt 30000 ]; do echo \"line $i\"; i=$((i+1)); done; echo end >&2";
  auto head = fab::run_process({.argv = {"sh", "-c", cmd}, .out_limit = {.bytes = 1000}});
  REQUIRE(head);
  CHECK(head->out.size() == 1000);
  CHECK(head->out.rfind("line 0\nline 1\n", 0) == 0);
  CHECK(head->out_bytes > 200000);
  CHECK(head->err == "end\n");
  CHECK(head->err_bytes == 4);

  std::string streamed;
  auto tail = fab::run_process({.argv = {"sh", "-c", cmd},
                                .out_limit = {.bytes = 1000, .keep_tail = true},
                                .on_output = [&](fab::Stream s, std::string_view t) {
                                  if (s == fab::Stream::out) streamed += t;
                                }});
  REQUIRE(tail);
  CHECK(tail->out.size() == 1000);
  CHECK(tail->out.substr(tail->out.size() - 11) == "line 29999\n");
  CHECK(tail->out_bytes == head->out_bytes);
  CHECK(streamed.size() == tail->out_bytes);  // every byte was streamed, before the limit cut it
  CHECK(streamed.substr(streamed.size() - 1000) == tail->out);

  const std::string noted = fab::with_size_note(tail->out, tail->out_bytes);
  CHECK(noted.rfind("[fab: " + std::to_string(tail->out_bytes) + " bytes (", 0) == 0);
  CHECK(noted.find("only the last 1000 bytes") != std::string::npos);
  CHECK(fab::with_size_note("all of it", 9) == "all of it");
  // A cut inside a UTF-8 character starts at the next one.
  CHECK(fab::tail_with_note("ab\xc3\xa9z", 2).substr(fab::tail_with_note("ab\xc3\xa9z", 2).find('\n') + 1) == "z");
}

TEST_CASE("what a timed-out child printed before the timeout is streamed to the caller", "[process]") {
  std::string streamed;
  auto r = fab::run_process({.argv = {"sh", "-c", "echo before; sleep 30"},
                             .timeout = 500ms,
                             .kill_grace = 100ms,
                             .on_output = [&](fab::Stream, std::string_view t) { streamed += t; }});
  REQUIRE(r);
  CHECK(r->timed_out);
  CHECK(streamed == "before\n");
  CHECK(r->out == "before\n");
}

namespace {
pid_t pid_in(const std::filesystem::path& file) { return std::stoi(fab::test::wait_for_file(file)); }
}  // namespace

TEST_CASE("with reap_orphans, what a killed child left behind outside its group ends with it", "[process]") {
  fab::test::TempDir dir;
  const std::string pid1 = (dir / "pid1").string(), pid2 = (dir / "pid2").string();
  // Each detached process writes its pid from inside its new session (before setsid, the child's
  // group kill would take it), and the child then dies by a signal, as a supervisor killed before
  // it could clean up would.
  const std::string wait_for = "while [ ! -s " + pid2 + " ]; do sleep 0.05; done; kill -9 $$";
  SECTION("setsid, then the child is killed") {
    auto r = fab::run_process(
        {.argv = {"sh", "-c", "setsid sh -c 'echo $$ > " + pid2 + "; exec sleep 300' & " + wait_for},
         .reap_orphans = true});
    REQUIRE(r);
    CHECK(r->signal == SIGKILL);
    CHECK(r->duration < 5s);
    CHECK(fab::test::process_gone(pid_in(pid2)));  // killed and reaped before run_process returned
  }
  SECTION("a double fork into a new session, whose own child outlives it") {
    // The orphan (a setsid shell) has a child of its own: it is re-parented here when the shell is
    // killed, and killed in turn.
    auto r = fab::run_process(
        {.argv = {"sh", "-c", "(setsid sh -c 'echo $$ > " + pid1 + "; sleep 300 & echo $! > " + pid2 + "; wait' &) ; " +
                                  wait_for},
         .reap_orphans = true});
    REQUIRE(r);
    CHECK(r->signal == SIGKILL);
    CHECK(fab::test::process_gone(pid_in(pid1)));
    CHECK(fab::test::process_gone(pid_in(pid2)));
  }
  SECTION("without it, such a process outlives the child (which is why plugin calls use it)") {
    auto r = fab::run_process(
        {.argv = {"sh", "-c", "setsid sh -c 'echo $$ > " + pid2 + "; exec sleep 300' & " + wait_for}});
    REQUIRE(r);
    const pid_t left = pid_in(pid2);
    CHECK_FALSE(fab::test::process_gone(left));
    // This process may be a subreaper by now (another section ran first): end it either way.
    ::kill(left, SIGKILL);
    CHECK(fab::test::gone_within(left, 2s));
    fab::kill_orphans();  // reaps it if it was re-parented here
  }
}

TEST_CASE("with reap_orphans, a child that exits by itself is trusted with its leftovers (no /proc scan)",
          "[process]") {
  fab::test::TempDir dir;
  const std::string pid_file = (dir / "left").string();
  auto r = fab::run_process({.argv = {"sh", "-c", "setsid sh -c 'echo $$ > " + pid_file + "; exec sleep 300' & "
                                                  "while [ ! -s " + pid_file + " ]; do sleep 0.05; done"},
                             .reap_orphans = true});
  REQUIRE(r);
  CHECK(r->ok());
  const pid_t left = pid_in(pid_file);
  CHECK_FALSE(fab::test::process_gone(left));  // a supervisor (run_supervised) would have ended it
  ::kill(left, SIGKILL);
  CHECK(fab::test::gone_within(left, 2s));
  fab::kill_orphans();  // reaps it: it was re-parented here
}
