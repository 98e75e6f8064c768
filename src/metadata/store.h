#pragma once
// Store: every interface of one metadata backend together, as berthd opens it. The embedded
// SQLite store and the PostgreSQL store both implement it, so the server holds either through
// one pointer and hands each part of itself the interface it uses.

#include "metadata/access_store.h"
#include "metadata/coordination_store.h"
#include "metadata/event_store.h"
#include "metadata/gc_store.h"
#include "metadata/lifecycle_store.h"
#include "metadata/metadata_store.h"
#include "metadata/task_store.h"
#include "metadata/upstream_store.h"

namespace berth::metadata {

class Store : public MetadataStore,
              public AccessStore,
              public EventStore,
              public GcStore,
              public LifecycleStore,
              public CoordinationStore,
              public UpstreamStore,
              public TaskStore {
 public:
  ~Store() override = default;
};

}  // namespace berth::metadata
