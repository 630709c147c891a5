// forkwait_race: the fork-exec/wait race, shown with the pre-fix algorithm
// (os::legacy) and closed by Go's fix (os::StartProcess), under one load.
//
// N fibers each start a child that exits with its own code, wander between
// OS threads (short sleeps and yields), then wait for it. With the legacy
// algorithm a fiber that forked on thread A and waits on thread B gets
// "no child processes", or reaps another fiber's child, whose status is then
// lost. With the fix every wait gets its own child's status, with either of
// its two ways of waiting: a locked waiter thread per child (Go's, "fixed")
// or K reaper threads for all children ("reaper", Options::process_reapers).
//
//   forkwait_race [-n N] [-procs P] [-reapers K]
//                 [-mode legacy|fixed|reaper|both|all] [--json]
//
// "all" (the default) runs the three in turn; "both" is legacy and fixed. Exits 0
// only if every fixed or reaper run had no error.
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gort/gort.h"

namespace {

using namespace gort;  // NOLINT: a demo program

struct Result {
  std::string mode;
  int spawned = 0;
  int correct = 0;
  int echild = 0;        // waits that failed with "no child processes"
  int other_status = 0;  // other children's statuses reaped (and lost) by a wait
  int errors = 0;        // anything else (start failures, wrong status, other wait errors)
  int threads = 0;       // peak OS threads of the process during the run
  absl::Duration wall;
};

int CountThreads() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

std::string SelfExe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "/proc/self/exe";
  buf[n] = 0;
  return buf;
}

// mode: "legacy", "fixed" or "reaper".
Result RunMode(const std::string& mode, int n, int procs, int reapers, bool progress) {
  Result r;
  r.mode = mode;
  const bool legacy = mode == "legacy";
  const std::string self = SelfExe();
  std::mutex mu;
  std::vector<pid_t> started;  // to reap what the legacy run leaves behind
  std::atomic<int> done{0}, spawned{0}, correct{0}, echild{0}, other{0}, errors{0};
  std::atomic<int> peak{0};
  absl::Time start = absl::Now();
  runtime::Run(
      [&] {
        std::atomic<bool> stop{false};
        sync::WaitGroup sampler_done;
        sampler_done.Add(1);
        runtime::Go([&] {
          absl::Time last = absl::Now();
          while (!stop.load()) {
            int t = CountThreads();
            if (t > peak.load()) peak = t;
            if (progress && absl::Now() - last > absl::Seconds(1)) {
              last = absl::Now();
              std::fprintf(stderr, "  %s: %d/%d waited\n", r.mode.c_str(), done.load(), n);
            }
            time::Sleep(absl::Milliseconds(5));
          }
          sampler_done.Done();
        });
        sync::WaitGroup wg;
        wg.Add(n);
        for (int i = 0; i < n; i++) {
          runtime::Go([&, i] {
            std::minstd_rand rng(static_cast<unsigned>(i) * 2654435761u + 1);
            int code = i % 256;
            std::vector<std::string> argv = {self, "--child", std::to_string(code)};
            absl::StatusOr<os::Process> p = legacy ? os::legacy::StartProcess(self, argv, {})
                                                   : os::StartProcess(self, argv, {});
            if (!p.ok()) {
              errors.fetch_add(1);
            } else {
              spawned.fetch_add(1);
              {
                std::lock_guard<std::mutex> l(mu);
                started.push_back(p->Pid());
              }
              // Wander: the scheduler may resume us on another thread after
              // each of these.
              for (int k = 0; k < 3; k++) {
                time::Sleep(absl::Microseconds(rng() % 2000));
                runtime::Gosched();
              }
              int dropped = 0;
              absl::StatusOr<os::ProcessState> ps =
                  legacy ? os::legacy::Wait(*p, &dropped) : p->Wait();
              other.fetch_add(dropped);
              if (ps.ok() && ps->Pid() == p->Pid() && ps->ExitCode() == code) {
                correct.fetch_add(1);
              } else if (!ps.ok() && ps.status().message() == "wait: no child processes") {
                echild.fetch_add(1);
              } else {
                errors.fetch_add(1);
              }
            }
            done.fetch_add(1);
            wg.Done();
          });
        }
        wg.Wait();
        stop = true;
        sampler_done.Wait();
      },
      runtime::Options{.procs = procs, .process_reapers = mode == "reaper" ? reapers : 0});
  r.wall = absl::Now() - start;
  // The legacy run leaves the children of waits that went to the wrong
  // thread as zombies: collect them (a thread-agnostic wait can).
  for (pid_t pid : started) {
    int st;
    while (waitpid(pid, &st, WNOHANG) < 0 && errno == EINTR) {
    }
  }
  r.spawned = spawned.load();
  r.correct = correct.load();
  r.echild = echild.load();
  r.other_status = other.load();
  r.errors = errors.load();
  r.threads = peak.load();
  return r;
}

void Usage() {
  std::fprintf(stderr,
               "usage: forkwait_race [-n N] [-procs P] [-reapers K]\n"
               "                     [-mode legacy|fixed|reaper|both|all] [--json]\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--child") == 0) return std::atoi(argv[2]);  // a child

  int n = 1000;
  int procs = 0;
  std::string mode = "all";
  int reapers = 2;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "forkwait_race: %s needs a value\n", name);
        Usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "-n" || a == "--n") {
      n = std::atoi(value("-n").c_str());
    } else if (a == "-procs" || a == "--procs") {
      procs = std::atoi(value("-procs").c_str());
    } else if (a == "-reapers" || a == "--reapers") {
      reapers = std::atoi(value("-reapers").c_str());
    } else if (a == "-mode" || a == "--mode") {
      mode = value("-mode");
    } else if (a == "--json" || a == "-json") {
      json = true;
    } else {
      Usage();
      return 2;
    }
  }
  if (n < 1 || procs < 0 || reapers < 1 || reapers > gort::runtime::kMaxProcessReapers ||
      (mode != "legacy" && mode != "fixed" && mode != "reaper" && mode != "both" &&
       mode != "all")) {
    Usage();
    return 2;
  }
  int shown_procs = procs > 0 ? procs : gort::runtime::NumCPU();
  if (!json) {
    std::printf(
        "forkwait_race: %d fibers, each forks a child with its own exit code, wanders\n"
        "between OS threads, then waits for it (procs=%d).\n\n",
        n, shown_procs);
  }
  std::vector<Result> results;
  bool progress = !json;
  const bool all = mode == "all";
  if (mode == "legacy" || mode == "both" || all) {
    results.push_back(RunMode("legacy", n, procs, reapers, progress));
  }
  if (mode == "fixed" || mode == "both" || all) {
    results.push_back(RunMode("fixed", n, procs, reapers, progress));
  }
  if (mode == "reaper" || all) results.push_back(RunMode("reaper", n, procs, reapers, progress));

  if (json) {
    std::printf("{\"n\": %d, \"procs\": %d, \"runs\": [", n, shown_procs);
    for (size_t i = 0; i < results.size(); i++) {
      const Result& r = results[i];
      std::printf(
          "%s{\"mode\": \"%s\", \"spawned\": %d, \"correct\": %d, \"echild\": %d, "
          "\"other_status\": %d, \"errors\": %d, \"threads\": %d, \"wall_ms\": %.1f}",
          i ? ", " : "", r.mode.c_str(), r.spawned, r.correct, r.echild, r.other_status, r.errors,
          r.threads, absl::ToDoubleMilliseconds(r.wall));
    }
    std::printf("]}\n");
  } else {
    std::printf("%-7s %8s %8s %7s %15s %7s %8s %9s\n", "mode", "spawned", "correct", "ECHILD",
                "another's status", "errors", "threads", "wall");
    for (const Result& r : results) {
      std::printf("%-7s %8d %8d %7d %15d %7d %8d %8.2fs\n", r.mode.c_str(), r.spawned, r.correct,
                  r.echild, r.other_status, r.errors, r.threads, absl::ToDoubleSeconds(r.wall));
    }
    std::printf("\n");
  }

  int rc = 0;
  for (const Result& r : results) {
    if (r.mode == "legacy" && !json) {
      if (r.echild > 0 || r.other_status > 0 || r.correct < r.spawned) {
        std::printf(
            "legacy: the race was reproduced: %d of %d waits failed (%d with ECHILD), and %d\n"
            "        exit statuses were reaped by the wrong fiber and lost.\n",
            r.spawned - r.correct, r.spawned, r.echild, r.other_status);
      } else {
        std::printf("legacy: the race did not show in this run (try a larger -n or -procs).\n");
      }
    }
    if (r.mode == "fixed" || r.mode == "reaper") {
      bool ok = r.errors == 0 && r.echild == 0 && r.correct == r.spawned && r.spawned == n;
      if (!json) {
        const char* who = r.mode == "fixed" ? "fixed: " : "reaper:";
        if (ok) {
          std::printf("%s all %d children were waited for with their own status (%s).\n", who, n,
                      r.mode == "fixed" ? "a waiter thread per running child"
                                        : absl::StrFormat("%d reaper threads", reapers).c_str());
        } else {
          std::printf("%s FAILED: %d of %d waits did not get their own child's status.\n", who,
                      n - r.correct, n);
        }
      }
      if (!ok) rc = 1;
    }
  }
  return rc;
}
