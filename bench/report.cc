// Aggregates a results file into the side-by-side table and the summary JSON.

#include <boost/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench_util.h"
#include "suite.h"

namespace berth::bench {
namespace {

struct Series {
  std::string workload;
  std::string metric;
  std::string unit;
  std::string better;
  std::string agg;
  std::map<std::string, std::vector<double>> values;  // by target

  std::optional<double> aggregate(const std::string& target) const {
    auto found = values.find(target);
    if (found == values.end() || found->second.empty()) return std::nullopt;
    if (agg == "max") return *std::max_element(found->second.begin(), found->second.end());
    return median(found->second);
  }
};

// A goal of the issue, as a bound on candidate/baseline.
struct Goal {
  bool at_least;
  double ratio;
};

// Workloads of features the reference lacks (webhooks, online garbage collection): their rows
// have no baseline; a "vs <reference workload>" row compares them with a berth workload of the
// same run instead, its throughput bounded by `goal`.
struct BerthOnly {
  std::string_view workload;
  std::string_view compared_with;  // empty: no comparison row
  double goal;
};
constexpr BerthOnly kBerthOnly[] = {
    {"push-many-webhooks", "push-many", 0.9},
    {"push-many-gc", "push-many-gc-off", 0.8},
    {"push-many-gc-off", "", 0},
    {"gc", "", 0},
    {"cache-plain", "", 0},
};
// A warm pull through the pull-through cache is a plain pull of stored content: it keeps up
// with a pull of the same images pushed to berth (cache-plain).
constexpr double kCacheWarmGoal = 0.95;
// The collector's examination rate has an absolute target.
constexpr double kGcExaminedRateGoal = 10000;

const BerthOnly* berth_only(std::string_view workload) {
  for (const BerthOnly& entry : kBerthOnly) {
    if (entry.workload == workload) return &entry;
  }
  return nullptr;
}

std::optional<Goal> goal_for(const std::string& workload, const std::string& metric) {
  if (berth_only(workload) != nullptr) return std::nullopt;
  if (metric == "peak_rss") {
    const bool concurrent = workload == "pull-concurrent" || workload == "curl-concurrent";
    return Goal{false, concurrent ? 0.25 : 0.5};
  }
  static const std::map<std::pair<std::string, std::string>, Goal> goals = {
      {{"push-large", "throughput"}, {true, 3.0}},
      {{"push-large", "server_cpu"}, {false, 0.35}},
      {{"push-chunked", "throughput"}, {true, 3.0}},
      {{"push-chunked", "server_cpu"}, {false, 0.35}},
      // Pulls: the same bounds whichever client pulls.
      {{"pull-large", "throughput"}, {true, 1.2}},
      {{"curl-pull", "throughput"}, {true, 1.2}},
      {{"skopeo-pull", "throughput"}, {true, 1.2}},
      {{"ctr-pull", "throughput"}, {true, 1.2}},
      {{"pull-range", "throughput"}, {true, 1.2}},
      {{"curl-range", "throughput"}, {true, 1.2}},
      {{"pull-concurrent", "throughput"}, {true, 1.3}},
      {{"pull-concurrent", "p99_latency"}, {false, 0.8}},
      {{"curl-concurrent", "throughput"}, {true, 1.3}},
      {{"curl-concurrent", "p99_latency"}, {false, 0.8}},
      {{"first-pull", "throughput"}, {true, 1.0}},
      {{"small-ops", "throughput"}, {true, 5.0}},
      {{"small-ops", "p99_latency"}, {false, 0.25}},
      {{"small-ops-auth", "throughput"}, {true, 5.0}},
      {{"push-many", "throughput"}, {true, 3.0}},
      {{"list-tags", "full_listing"}, {false, 1.0}},
      {{"catalog", "full_listing"}, {false, 0.1}},
      {{"startup", "ready"}, {false, 1.0}},
      {{"rss-idle", "rss"}, {false, 0.5}},
  };
  auto found = goals.find({workload, metric});
  if (found == goals.end()) return std::nullopt;
  return found->second;
}

// The name of the baseline's instance with authentication on.
std::string auth_baseline(const std::string& baseline) { return baseline + "-auth"; }

std::string format_number(std::optional<double> value) {
  if (!value || !std::isfinite(*value)) return "-";
  char text[32];
  const double magnitude = std::fabs(*value);
  std::snprintf(text, sizeof text, magnitude >= 100 ? "%.0f" : magnitude >= 10 ? "%.1f" : "%.2f",
                *value);
  return text;
}

std::string pad(const std::string& text, std::size_t width, bool right = false) {
  if (text.size() >= width) return text;
  return right ? std::string(width - text.size(), ' ') + text
               : text + std::string(width - text.size(), ' ');
}

}  // namespace

int run_report(const std::string& results, const std::string& json_out,
               const std::string& baseline, const std::string& candidate) {
  std::ifstream in(results);
  if (!in) {
    std::cerr << "report: cannot read " << results << '\n';
    return 2;
  }
  std::vector<Series> series;
  std::map<std::pair<std::string, std::string>, std::size_t> index;
  boost::json::array failures, notes;
  std::string line;
  for (int count = 0; count < 10'000'000 && std::getline(in, line); ++count) {
    if (line.empty()) continue;
    boost::system::error_code ec;
    auto parsed = boost::json::parse(line, ec);
    if (ec || !parsed.is_object()) {
      failures.push_back(boost::json::object{{"error", "unparsable result line: " + line}});
      continue;
    }
    const auto& object = parsed.as_object();
    if (object.contains("ok")) {
      failures.push_back(object);
      continue;
    }
    if (object.contains("note")) {
      notes.push_back(object);
      continue;
    }
    const std::string workload(object.at("workload").as_string());
    const std::string metric(object.at("metric").as_string());
    auto key = std::make_pair(workload, metric);
    auto [where, inserted] = index.emplace(key, series.size());
    if (inserted) {
      series.push_back({workload, metric, std::string(object.at("unit").as_string()),
                        std::string(object.at("better").as_string()),
                        std::string(object.at("agg").as_string()), {}});
    }
    series[where->second].values[std::string(object.at("target").as_string())].push_back(
        object.at("value").to_number<double>());
  }

  // Machine ceilings first.
  std::cout << "\nMachine ceilings (same run):\n";
  boost::json::object machine;
  for (const auto& s : series) {
    if (auto value = s.aggregate("machine")) {
      std::cout << "  " << pad(s.workload + " " + s.metric, 34) << pad(format_number(value), 10, true)
                << ' ' << s.unit << '\n';
      machine[s.workload + "/" + s.metric] = *value;
    }
  }

  const std::vector<std::pair<std::string, std::size_t>> columns = {
      {"workload", 18}, {"metric", 16}, {"unit", 9},   {candidate, 10},
      {baseline, 10},   {"ratio", 8},   {"target", 9}, {"met?", 5}};
  std::cout << '\n';
  for (std::size_t i = 0; i < columns.size(); ++i) {
    std::cout << pad(columns[i].first, columns[i].second, i >= 3) << (i + 1 < columns.size() ? "  " : "\n");
  }
  std::size_t width = 0;
  for (const auto& column : columns) width += column.second + 2;
  std::cout << std::string(width - 2, '-') << '\n';

  boost::json::array rows;
  int met = 0, missed = 0;
  bool berth_only_rows = false;
  auto print_row = [&](const std::string& workload, const std::string& metric,
                       const std::string& unit, std::optional<double> ours,
                       std::optional<double> theirs, std::optional<double> ratio,
                       std::optional<Goal> goal) {
    std::string target_text = "-";
    const char* met_text = "";
    std::optional<bool> met_value;
    if (goal) {
      target_text = std::string(goal->at_least ? ">=" : "<=") + format_number(goal->ratio) + "x";
      if (ratio && std::isfinite(*ratio)) {
        met_value = goal->at_least ? *ratio >= goal->ratio : *ratio <= goal->ratio;
        met_text = *met_value ? "yes" : "NO";
        (*met_value ? met : missed)++;
      } else {
        met_text = "?";
      }
    }
    const std::vector<std::string> cells = {workload,
                                            metric,
                                            unit,
                                            format_number(ours),
                                            format_number(theirs),
                                            ratio ? format_number(ratio) + "x" : "-",
                                            target_text,
                                            std::string(met_text)};
    for (std::size_t i = 0; i < columns.size(); ++i) {
      std::cout << pad(cells[i], columns[i].second, i >= 3) << (i + 1 < columns.size() ? "  " : "\n");
    }
    boost::json::object row{{"workload", workload}, {"metric", metric}, {"unit", unit}};
    row[candidate] = ours ? boost::json::value(*ours) : boost::json::value(nullptr);
    row[baseline] = theirs ? boost::json::value(*theirs) : boost::json::value(nullptr);
    row["ratio"] = ratio ? boost::json::value(*ratio) : boost::json::value(nullptr);
    if (goal) {
      row["target"] = target_text;
      row["met"] = met_value ? boost::json::value(*met_value) : boost::json::value(nullptr);
    }
    rows.push_back(std::move(row));
  };

  for (const auto& s : series) {
    if (s.values.count("machine")) continue;
    const auto ours = s.aggregate(candidate);
    // The "-auth" workloads compare with the baseline's authenticating twin.
    const auto theirs = s.values.count(baseline) ? s.aggregate(baseline)
                                                 : s.aggregate(auth_baseline(baseline));
    std::optional<double> ratio;
    if (ours && theirs && *theirs != 0) ratio = *ours / *theirs;
    // The targets bound berth against the reference registry; other pairs (berth on the
    // scale-out backends against the embedded default, N nodes against one) are shown without.
    print_row(s.workload, s.metric, s.unit, ours, theirs, ratio,
              baseline == "ref" ? goal_for(s.workload, s.metric) : std::nullopt);
    // The pull goal also has an absolute part: within 90% of the machine's sendfile copy.
    if (s.workload == "pull-large" && s.metric == "throughput") {
      auto ceiling = machine.if_contains("ceiling/sendfile_loopback");
      if (ceiling && ours) {
        const double c = ceiling->to_number<double>();
        print_row("pull-large", "vs sendfile", "MB/s", ours, c, *ours / c, Goal{true, 0.9});
      }
    }
    // Webhook deliveries and garbage collection never run on a push's path: pushes keep most
    // of the rate they have without them (the server's CPU is shown, without a bound).
    const BerthOnly* only = berth_only(s.workload);
    if (only != nullptr) berth_only_rows = true;
    if (only != nullptr && !only->compared_with.empty() &&
        (s.metric == "throughput" || s.metric == "server_cpu")) {
      auto plain = index.find({std::string(only->compared_with), s.metric});
      const auto without =
          plain == index.end() ? std::nullopt : series[plain->second].aggregate(candidate);
      if (ours && without && *without != 0) {
        print_row(s.workload, "vs " + std::string(only->compared_with), s.unit, ours, without,
                  *ours / *without,
                  s.metric == "throughput" ? std::optional<Goal>(Goal{true, only->goal})
                                           : std::nullopt);
      }
    }
    if (s.workload == "cache-warm" && s.metric == "throughput" && ours) {
      auto plain = index.find({"cache-plain", s.metric});
      const auto direct =
          plain == index.end() ? std::nullopt : series[plain->second].aggregate(candidate);
      if (direct && *direct != 0) {
        print_row("cache-warm", "vs cache-plain", s.unit, ours, direct, *ours / *direct,
                  Goal{true, kCacheWarmGoal});
      }
    }
    if (s.workload == "gc" && s.metric == "examined_rate" && ours) {
      print_row("gc", "vs 10k blobs/s", s.unit, ours, kGcExaminedRateGoal,
                *ours / kGcExaminedRateGoal, Goal{true, 1.0});
    }
  }

  std::cout << "\nratio = " << candidate << " / " << baseline
            << "; the target column bounds that ratio (>= for higher-is-better figures, <= for"
               " lower-is-better).\n";
  std::cout << "*-auth rows: the " << baseline << " column is " << auth_baseline(baseline)
            << ", the same registry with authentication on.\n";
  if (berth_only_rows) {
    std::cout << "push-many-webhooks, gc, push-many-gc(-off): " << candidate << " only (the "
              << baseline << " has no webhooks and collects offline, with the registry stopped);"
              << " in their \"vs ...\" rows the " << baseline << " column is " << candidate
              << "'s named workload of this run (push-many without webhooks, push-many-gc-off"
              << " without collection), and for gc the 10k blobs/s target.\n";
  }
  std::cout << "targets met: " << met << ", missed: " << missed << '\n';
  for (const auto& note : notes) {
    const auto& object = note.as_object();
    std::cout << "note: " << object.at("workload").as_string().c_str() << " ["
              << object.at("target").as_string().c_str() << "] "
              << object.at("note").as_string().c_str() << '\n';
  }
  for (const auto& failure : failures) {
    std::cout << "FAILED: " << boost::json::serialize(failure) << '\n';
  }
  std::cout << (failures.empty() ? "all answers verified\n" : "WRONG ANSWERS: the run failed\n");

  if (!json_out.empty()) {
    boost::json::object summary{{"candidate", candidate}, {"baseline", baseline},
                                {"machine", machine},     {"rows", rows},
                                {"notes", notes},         {"failures", failures},
                                {"ok", failures.empty()}, {"targets_met", met},
                                {"targets_missed", missed}};
    std::ofstream out(json_out);
    out << boost::json::serialize(summary) << '\n';
    if (!out) {
      std::cerr << "report: cannot write " << json_out << '\n';
      return 2;
    }
  }
  return failures.empty() ? 0 : 1;
}

}  // namespace berth::bench
