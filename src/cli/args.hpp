// Minimal argv parsing for the donatio CLI: positional words plus --name VALUE / --name=VALUE
// options and bare --flags. Unknown options are reported by the command that reads them.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace donatio::cli {

class Args {
 public:
  Args(int argc, char** argv, int first);

  const std::vector<std::string>& positional() const { return positional_; }
  std::optional<std::string> get(const std::string& name) const;
  std::string get_or(const std::string& name, const std::string& fallback) const;
  bool flag(const std::string& name) const;
  bool help() const { return flag("help") || flag("h"); }
  // The first option not in `allowed`, or "" when all are known.
  std::string unknown_option(const std::set<std::string>& allowed) const;

 private:
  std::vector<std::string> positional_;
  std::map<std::string, std::string> options_;
};

}  // namespace donatio::cli
