// Running the real donatio binary from tests: one-shot commands and a background server.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace donatio::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs DONATIO_BINARY with `args`, extra environment `env`; waits (bounded by timeout_s).
CommandResult run_donatio(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {},
                          int timeout_s = 60);

// A background `donatio ARGS` process; killed (SIGKILL) on destruction if still running.
class DonatioProcess {
 public:
  DonatioProcess(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                 const std::string& log_path);
  ~DonatioProcess();
  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Waits for exit; returns the exit code, or -1 on timeout, 128+N when killed by signal N.
  int wait(int timeout_ms);

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
};

// The last non-empty line of `text`.
std::string last_line(const std::string& text);
// Polls GET http://127.0.0.1:port/healthz until it answers 200 or timeout.
bool wait_until_healthy(int port, int timeout_ms, bool tls = false);
// A TCP port that was free a moment ago on 127.0.0.1.
int free_port();

}  // namespace donatio::testing
