// Registry (tenant) resolution from the Host header, against the real SQLite metadata store:
// which host forms select which registry, and which fall back to the default one.

#include "registry/tenant_resolver.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/temp_dir.h"
#include "metadata/sqlite_metadata_store.h"

namespace berth::registry {
namespace {

// The id `host` resolves to; 0 (no registry has it) when it does not resolve.
metadata::RegistryId id_of(const TenantResolver& resolver, std::string_view host) {
  auto id = resolver.resolve(host);
  return id ? *id : 0;
}

class TenantResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = metadata::SqliteMetadataStore::open(dir_.path() / "metadata.db");
    ASSERT_TRUE(store) << store.error().message;
    metadata_ = std::move(*store);
    myreg_ = create("myreg");
    other_ = create("OtherReg");
  }

  metadata::RegistryId create(const std::string& name) {
    metadata::RegistryRecord record;
    record.name = name;
    record.tier = "Standard";
    record.created_at = 1;
    auto created = metadata_->create_registry(record);
    EXPECT_TRUE(created) << created.error().message;
    return created ? created->id : 0;
  }

  TenantResolver resolver(TenantRouting routing = {}) const {
    return TenantResolver(*metadata_, std::move(routing));
  }

  // The id `host` resolves to under the default routing; 0 when it does not resolve.
  metadata::RegistryId resolved(std::string_view host) const { return id_of(resolver(), host); }

  TempDir dir_;
  std::unique_ptr<metadata::SqliteMetadataStore> metadata_;
  metadata::RegistryId myreg_ = 0;
  metadata::RegistryId other_ = 0;
};

TEST_F(TenantResolverTest, ALabelUnderTheDomainSelectsThatRegistry) {
  EXPECT_EQ(resolved("myreg.registry.local"), myreg_);
  EXPECT_EQ(resolved("otherreg.registry.local"), other_);
  EXPECT_NE(myreg_, other_);
  EXPECT_NE(myreg_, metadata::kDefaultRegistryId);
}

TEST_F(TenantResolverTest, ARunListenerAddressesItsRegistryWhateverTheHost) {
  auto routing = resolver();
  const std::string listener = std::string(kRunListenerPrefix) + "myreg";
  auto through = routing.resolve("127.0.0.1:41234", listener);
  ASSERT_TRUE(through);
  EXPECT_EQ(*through, myreg_);
  EXPECT_EQ(routing.resolve("otherreg.registry.local", listener).value(), myreg_);
  // A run listener of a registry that is gone names it, and never falls back to the default.
  EXPECT_FALSE(routing.resolve("127.0.0.1", std::string(kRunListenerPrefix) + "gonereg"));
  // The bare prefix is no registry's listener: the host decides.
  EXPECT_EQ(routing.resolve("127.0.0.1", kRunListenerPrefix).value(),
            metadata::kDefaultRegistryId);
}

TEST_F(TenantResolverTest, AnyPortIsIgnored) {
  for (std::string host : {"myreg.registry.local:5000", "myreg.registry.local:443",
                           "myreg.registry.local:1", "myreg.registry.local:65535"}) {
    EXPECT_EQ(resolved(host), myreg_) << host;
    EXPECT_EQ(resolver().registry_name_of(host), "myreg") << host;
  }
}

// RFC 3986 allows an empty port ("host:"); it means the same as no port.
TEST_F(TenantResolverTest, AnEmptyPortIsNoPort) {
  EXPECT_EQ(resolver().registry_name_of("myreg.registry.local:"), "myreg");
  EXPECT_EQ(resolved("myreg.registry.local:"), myreg_);
}

TEST_F(TenantResolverTest, TheAbsoluteDnsFormWithATrailingDotIsTheSameHost) {
  EXPECT_EQ(resolved("myreg.registry.local."), myreg_);
  EXPECT_EQ(resolved("myreg.registry.local.:5000"), myreg_);
  EXPECT_EQ(resolver().registry_name_of("myreg.registry.local."), "myreg");
}

TEST_F(TenantResolverTest, CaseIsIgnoredInTheNameAndTheDomain) {
  EXPECT_EQ(resolved("MYREG.REGISTRY.LOCAL"), myreg_);
  EXPECT_EQ(resolved("MyReg.Registry.Local:5000"), myreg_);
  // The registry was created as "OtherReg"; the host names it in any case.
  EXPECT_EQ(resolved("otherreg.registry.local"), other_);
  EXPECT_EQ(resolved("OTHERREG.registry.local"), other_);
  EXPECT_EQ(resolver().registry_name_of("MyReg.Registry.Local"), "myreg");
  // A domain configured in capitals matches lower-case hosts.
  auto upper = resolver({"Registry.Example", std::string(metadata::kDefaultRegistryName)});
  EXPECT_EQ(id_of(upper, "myreg.registry.example"), myreg_);
}

TEST_F(TenantResolverTest, HostsOutsideTheDomainGetTheDefaultRegistry) {
  for (std::string host :
       {"localhost", "localhost:5000", "127.0.0.1", "127.0.0.1:5000", "", "registry.local",
        "registry.local:5000", "myreg.example.com", "myregregistry.local",
        "myreg.registry.local.example.com", "myreg.registry.localhost", ".registry.local"}) {
    EXPECT_EQ(resolver().registry_name_of(host), "") << host;
    EXPECT_EQ(resolved(host), metadata::kDefaultRegistryId) << host;
  }
}

TEST_F(TenantResolverTest, Ipv6LiteralsGetTheDefaultRegistry) {
  for (std::string host : {"[::1]", "[::1]:5000", "[2001:db8::1]:443", "[::ffff:127.0.0.1]"}) {
    EXPECT_EQ(resolver().registry_name_of(host), "") << host;
    EXPECT_EQ(resolved(host), metadata::kDefaultRegistryId) << host;
  }
}

// A host under the domain is never served by another registry: when it names no existing
// registry the answer is name_unknown naming what it asked for (docs/management-api.md).
TEST_F(TenantResolverTest, AnUnknownRegistryUnderTheDomainIsNameUnknown) {
  auto missing = resolver().resolve("nosuchreg.registry.local:5000");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::name_unknown);
  EXPECT_NE(missing.error().message.find("'nosuchreg'"), std::string::npos)
      << missing.error().message;
}

// "a.b.registry.local" is under the domain, but no registry name holds a dot: it names no
// registry, and falling back to the default one would serve a client another tenant's content.
TEST_F(TenantResolverTest, NestedLabelsUnderTheDomainAreNameUnknown) {
  for (std::string host : {"a.b.registry.local", "x.myreg.registry.local",
                           "myreg.myreg.registry.local:5000", "A.B.Registry.Local."}) {
    auto id = resolver().resolve(host);
    ASSERT_FALSE(id) << host << " resolved to registry " << *id;
    EXPECT_EQ(id.error().code, Errc::name_unknown) << host;
  }
}

TEST_F(TenantResolverTest, TheConfiguredDefaultRegistryAnswersOtherHosts) {
  auto routing = resolver({"registry.local", "OtherReg"});
  for (std::string host : {"localhost:5000", "[::1]:5000", "127.0.0.1"}) {
    auto id = routing.resolve(host);
    ASSERT_TRUE(id) << host << ": " << id.error().message;
    EXPECT_EQ(*id, other_) << host;
  }
  // Hosts under the domain still pick their own registry.
  EXPECT_EQ(id_of(routing, "myreg.registry.local"), myreg_);
  EXPECT_EQ(id_of(routing, "default.registry.local"), metadata::kDefaultRegistryId);
}

TEST_F(TenantResolverTest, AMissingDefaultRegistryIsNameUnknownNamingIt) {
  auto routing = resolver({"registry.local", "vanished"});
  auto id = routing.resolve("localhost:5000");
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().code, Errc::name_unknown);
  EXPECT_NE(id.error().message.find("default registry 'vanished'"), std::string::npos)
      << id.error().message;
  // Named registries are unaffected.
  EXPECT_EQ(id_of(routing, "myreg.registry.local"), myreg_);
}

TEST_F(TenantResolverTest, ADeletedRegistryNoLongerResolves) {
  ASSERT_TRUE(metadata_->delete_registry(myreg_));
  auto id = resolver().resolve("myreg.registry.local");
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().code, Errc::name_unknown);
}

TEST_F(TenantResolverTest, AnotherDomainIsMatchedOnLabelBoundaries) {
  auto routing = resolver({"example.com", std::string(metadata::kDefaultRegistryName)});
  EXPECT_EQ(id_of(routing, "myreg.example.com"), myreg_);
  EXPECT_EQ(id_of(routing, "myreg.registry.local"), metadata::kDefaultRegistryId);
  EXPECT_EQ(id_of(routing, "myregexample.com"), metadata::kDefaultRegistryId);
  EXPECT_EQ(id_of(routing, "example.com"), metadata::kDefaultRegistryId);
}

}  // namespace
}  // namespace berth::registry
