#include "src/http/metrics.hpp"

#include <fmt/format.h>

namespace donatio::http {

void Metrics::observe_request(const std::string& method, const std::string& route, int status,
                              double seconds) {
  std::string key;
  key.reserve(method.size() + route.size() + 6);
  key.append(method).append(1, '\t').append(route).append(1, '\t').append(std::to_string(status));
  std::lock_guard lock(mutex_);
  ++requests_[key];
  Histogram& h = latency_[route];
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::increment(const std::string& name, const std::string& labels, std::int64_t by) {
  std::lock_guard lock(mutex_);
  counters_[name][labels] += by;
}

void Metrics::set_gauge(const std::string& name, const std::string& labels, std::int64_t value) {
  std::lock_guard lock(mutex_);
  gauges_[name][labels] = value;
}

void Metrics::describe(const std::string& name, const std::string& type, const std::string& help) {
  std::lock_guard lock(mutex_);
  help_[name] = {type, help};
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  out += "# HELP donatio_http_requests_total HTTP requests by method, route and status.\n";
  out += "# TYPE donatio_http_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    const auto t1 = key.find('\t');
    const auto t2 = key.find('\t', t1 + 1);
    out += fmt::format("donatio_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}\"}} {}\n",
                       key.substr(0, t1), key.substr(t1 + 1, t2 - t1 - 1), key.substr(t2 + 1), count);
  }
  out += "# HELP donatio_http_request_duration_seconds HTTP request latency by route.\n";
  out += "# TYPE donatio_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      out += fmt::format("donatio_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", route,
                         kBuckets[i], h.buckets[i]);
    }
    out += fmt::format("donatio_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", route, h.count);
    out += fmt::format("donatio_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", route, h.sum);
    out += fmt::format("donatio_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", route, h.count);
  }
  auto family = [&](const auto& families, const char* default_type) {
    for (const auto& [name, series] : families) {
      auto help = help_.find(name);
      if (help != help_.end()) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help->second.second, name, help->second.first);
      } else {
        out += fmt::format("# TYPE {} {}\n", name, default_type);
      }
      for (const auto& [labels, value] : series) {
        out += labels.empty() ? fmt::format("{} {}\n", name, value) : fmt::format("{}{{{}}} {}\n", name, labels, value);
      }
    }
  };
  family(counters_, "counter");
  family(gauges_, "gauge");
  return out;
}

}  // namespace donatio::http
