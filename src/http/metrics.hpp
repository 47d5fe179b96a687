// Metrics: counters and latency histograms rendered in the Prometheus text format for
// GET /metrics. Thread-safe: one mutex per family; increments are cheap map updates.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace donatio::http {

class Metrics {
 public:
  // One finished HTTP request: route label is the route pattern, not the raw path.
  void observe_request(const std::string& method, const std::string& route, int status, double seconds);
  // A named counter with one label set, e.g. ("donatio_webhook_events_total", "type=\"x\",outcome=\"applied\"").
  void increment(const std::string& name, const std::string& labels = {}, std::int64_t by = 1);
  // A gauge evaluated when /metrics is scraped.
  void set_gauge(const std::string& name, const std::string& labels, std::int64_t value);
  // HELP text for a counter or gauge family.
  void describe(const std::string& name, const std::string& type, const std::string& help);

  std::string render() const;

 private:
  static constexpr std::array<double, 12> kBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05, 0.1, 0.25, 0.5, 1.0, 5.0};
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t> requests_;  // key: method\troute\tstatus
  std::map<std::string, Histogram> latency_;       // key: route
  std::map<std::string, std::map<std::string, std::int64_t>> counters_;
  std::map<std::string, std::map<std::string, std::int64_t>> gauges_;
  std::map<std::string, std::pair<std::string, std::string>> help_;
};

}  // namespace donatio::http
