#pragma once
// NodeLease: one named job of the deployment (garbage collection, the lifecycle job, the upload
// sweeper) runs on one node at a time. Every node of a deployment makes the same NodeLease;
// hold() takes the lease or renews it when this node holds it already, and says whether this
// node may run the job now. The lease lives in the shared metadata (CoordinationStore), so it
// holds across nodes; on the embedded default it is the same code with one node.
//
// A holder that stops (crash, kill -9, lost database) keeps the lease until its TTL runs out;
// then another node takes it on its next hold(). A holder renews by calling hold() again well
// before that (at least every third of the TTL).

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "metadata/coordination_store.h"

namespace berth::registry {

// A process's name in leases: host, process id and a random part, so that a restarted node
// never mistakes its predecessor's lease for its own.
std::string make_node_id();

class NodeLease {
 public:
  // `clock_ms`: Unix milliseconds now (tests move it); defaults to the system clock.
  NodeLease(metadata::CoordinationStore& store, std::string name, std::string holder,
            std::chrono::milliseconds ttl, std::function<std::int64_t()> clock_ms = {});

  // True when this node holds the lease now, taken or renewed by this call. False when another
  // node holds it, or when the store cannot be reached (logged): a node that cannot reach the
  // database must not go on as if it held the lease.
  bool hold();
  // Lets the lease go when this node holds it, so another node need not wait for the TTL.
  void release();

  const std::string& name() const { return name_; }
  const std::string& holder() const { return holder_; }
  std::chrono::milliseconds ttl() const { return ttl_; }

 private:
  metadata::CoordinationStore& store_;
  std::string name_;
  std::string holder_;
  std::chrono::milliseconds ttl_;
  std::function<std::int64_t()> clock_ms_;
};

}  // namespace berth::registry
