#include "src/cli/args.hpp"

namespace donatio::cli {

namespace {
const std::set<std::string> kBareFlags{"help", "h", "json", "dry-run", "force"};
}

Args::Args(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string word = argv[i];
    if (word.rfind("--", 0) == 0 || (word.size() == 2 && word[0] == '-')) {
      std::string name = word.substr(word[1] == '-' ? 2 : 1);
      if (auto eq = name.find('='); eq != std::string::npos) {
        options_[name.substr(0, eq)] = name.substr(eq + 1);
      } else if (!kBareFlags.count(name) && i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
        options_[name] = argv[++i];
      } else {
        options_[name] = "";
      }
    } else {
      positional_.push_back(std::move(word));
    }
  }
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = options_.find(name);
  if (it == options_.end()) return std::nullopt;
  return it->second;
}

std::string Args::get_or(const std::string& name, const std::string& fallback) const {
  return get(name).value_or(fallback);
}

bool Args::flag(const std::string& name) const { return options_.count(name) > 0; }

std::string Args::unknown_option(const std::set<std::string>& allowed) const {
  for (const auto& [name, value] : options_) {
    if (!allowed.count(name) && name != "help" && name != "h") return name;
  }
  return {};
}

}  // namespace donatio::cli
