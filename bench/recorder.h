#pragma once

// Results as JSON lines, one measurement per line:
//   {"workload":"push-large","metric":"MBps","target":"berth","value":812.4,
//    "unit":"MB/s","better":"higher","agg":"median"}
// failures as {"workload":..., "target":..., "ok":false, "error":"..."} and notes as
// {"workload":..., "target":..., "note":"..."}. The report aggregates repeated lines of one
// (workload, metric, target) with `agg` (median or max).

#include <fstream>
#include <mutex>
#include <string>

namespace berth::bench {

class Recorder {
 public:
  explicit Recorder(const std::string& path);

  void value(const std::string& workload, const std::string& metric, const std::string& target,
             double value, const std::string& unit, const std::string& better,
             const std::string& agg = "median");
  void note(const std::string& workload, const std::string& target, const std::string& text);
  void failure(const std::string& workload, const std::string& target, const std::string& error);
  bool failed() const { return failed_; }

 private:
  void write(const std::string& line);

  std::mutex mutex_;
  std::ofstream out_;
  bool failed_ = false;
};

}  // namespace berth::bench
