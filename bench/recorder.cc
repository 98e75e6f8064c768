#include "recorder.h"

#include <boost/json.hpp>

#include <cmath>
#include <iostream>
#include <stdexcept>

namespace berth::bench {

Recorder::Recorder(const std::string& path) : out_(path, std::ios::app) {
  if (!out_) throw std::runtime_error("cannot open " + path);
}

void Recorder::write(const std::string& line) {
  std::lock_guard lock(mutex_);
  out_ << line << '\n';
  out_.flush();
}

void Recorder::value(const std::string& workload, const std::string& metric,
                     const std::string& target, double value, const std::string& unit,
                     const std::string& better, const std::string& agg) {
  if (!std::isfinite(value)) {
    failure(workload, target, "no finite value for " + metric);
    return;
  }
  boost::json::object line{{"workload", workload}, {"metric", metric}, {"target", target},
                           {"value", value},       {"unit", unit},     {"better", better},
                           {"agg", agg}};
  write(boost::json::serialize(line));
  std::cerr << "  " << workload << " " << metric << " [" << target << "] = " << value << ' '
            << unit << '\n';
}

void Recorder::note(const std::string& workload, const std::string& target,
                    const std::string& text) {
  boost::json::object line{{"workload", workload}, {"target", target}, {"note", text}};
  write(boost::json::serialize(line));
  std::cerr << "  note " << workload << " [" << target << "]: " << text << '\n';
}

void Recorder::failure(const std::string& workload, const std::string& target,
                       const std::string& error) {
  failed_ = true;
  boost::json::object line{{"workload", workload}, {"target", target}, {"ok", false},
                           {"error", error}};
  write(boost::json::serialize(line));
  std::cerr << "  FAILED " << workload << " [" << target << "]: " << error << '\n';
}

}  // namespace berth::bench
