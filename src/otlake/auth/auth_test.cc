#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "otlake/auth/key_store.h"
#include "otlake/auth/policy.h"
#include "otlake/auth/sha256.h"

namespace otlake::auth {
namespace {

std::string Hex(std::string_view s) { return ToHex(Sha256Of(s)); }

// FIPS 180-4 / NIST CSRC example vectors.
TEST(Sha256, PublishedVectors) {
  EXPECT_EQ(Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  std::string msg;
  for (int i = 0; i < 300; ++i) msg += static_cast<char>(i * 7);
  for (size_t split : {0, 1, 55, 56, 63, 64, 65, 127, 200}) {
    Sha256 h;
    h.Update(std::string_view(msg).substr(0, split));
    h.Update(std::string_view(msg).substr(split));
    EXPECT_EQ(ToHex(h.Finish()), Hex(msg)) << split;
  }
}

TEST(ConstantTimeEqual, Compares) {
  EXPECT_TRUE(ConstantTimeEqual("", ""));
  EXPECT_TRUE(ConstantTimeEqual("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEqual(std::string(32, '\0'), std::string(31, '\0') + "\x01"));
}

TEST(Token, Parse) {
  std::string_view id, secret;
  const std::string good = "otlk_0123456789ab_" + std::string(40, 'f');
  ASSERT_TRUE(ParseToken(good, &id, &secret));
  EXPECT_EQ(id, "0123456789ab");
  EXPECT_EQ(secret, std::string(40, 'f'));
  EXPECT_FALSE(ParseToken("otlk_0123456789ab_" + std::string(39, 'f'), &id, &secret));
  EXPECT_FALSE(ParseToken("otlk_0123456789aB_" + std::string(40, 'f'), &id, &secret));
  EXPECT_FALSE(ParseToken("xxxx_0123456789ab_" + std::string(40, 'f'), &id, &secret));
  EXPECT_FALSE(ParseToken("otlk_0123456789ab-" + std::string(40, 'f'), &id, &secret));
  EXPECT_FALSE(ParseToken("", &id, &secret));
}

// ---------------------------------------------------------------------------------------------
// Policy: scope x route x project, in both modes.

TEST(Policy, ClassifyPath) {
  EXPECT_EQ(ClassifyPath("/v1/traces"), RouteClass::kIngest);
  EXPECT_EQ(ClassifyPath("/api/spans"), RouteClass::kRead);
  EXPECT_EQ(ClassifyPath("/v3/ingestion-sources"), RouteClass::kAdmin);
  EXPECT_EQ(ClassifyPath("/healthz"), RouteClass::kPublic);
  EXPECT_EQ(ClassifyPath("/nope"), RouteClass::kPublic);
  EXPECT_EQ(ClassifyPath("/v1"), RouteClass::kPublic);  // no route: 404
}

TEST(Policy, Table) {
  struct Row {
    Mode mode;
    RouteClass route;
    int key;  // -1 none, else a Scope
    const char* key_project;
    const char* project;
    Outcome want;
  };
  const Mode O = Mode::kOpen, R = Mode::kRequired;
  const RouteClass P = RouteClass::kPublic, I = RouteClass::kIngest, Rd = RouteClass::kRead,
                   A = RouteClass::kAdmin;
  const int kNone = -1, kA = int(Scope::kAdmin), kI = int(Scope::kIngest), kR = int(Scope::kRead);
  const Outcome ok = Outcome::kAllow, e401 = Outcome::kNeedKey, e403 = Outcome::kForbidden;
  const std::string all(kAllProjects);
  const Row rows[] = {
      // open mode: only admin routes need a key
      {O, P, kNone, "", "", ok},          {O, I, kNone, "", "p", ok},
      {O, Rd, kNone, "", "", ok},         {O, A, kNone, "", "", e401},
      {O, A, kI, "", "", e403},           {O, A, kR, "", "", e403},
      {O, A, kA, "", "", ok},             {O, I, kR, "", "p", ok},
      // required mode
      {R, P, kNone, "", "", ok},          {R, I, kNone, "", "p", e401},
      {R, Rd, kNone, "", "", e401},       {R, A, kNone, "", "", e401},
      {R, I, kI, "", "p", ok},            {R, I, kA, "", "p", ok},
      {R, I, kR, "", "p", e403},          {R, Rd, kR, "", "p", ok},
      {R, Rd, kA, "", "", ok},            {R, Rd, kI, "", "p", e403},
      {R, A, kA, "", "", ok},             {R, A, kI, "", "", e403},
      {R, A, kR, "", "", e403},
      // project-limited keys
      {R, I, kI, "a", "a", ok},           {R, I, kI, "a", "b", e403},
      {R, Rd, kR, "a", "a", ok},          {R, Rd, kR, "a", "b", e403},
      {R, Rd, kR, "a", all.c_str(), e403}, {R, Rd, kR, "", all.c_str(), ok},
      {R, I, kR, "a", "a", e403},         {R, Rd, kI, "a", "a", e403},
  };
  for (const Row& r : rows) {
    Principal p{"0123456789ab", Scope(r.key < 0 ? 0 : r.key), r.key_project};
    Decision d = Authorize(r.mode, r.route, r.key < 0 ? nullptr : &p, r.project);
    EXPECT_EQ(int(d.outcome), int(r.want))
        << ModeName(r.mode) << " route " << int(r.route) << " key " << r.key << " key_project '"
        << r.key_project << "' project '" << r.project << "': " << d.message;
    if (!d.ok()) {
      EXPECT_FALSE(d.message.empty());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Store and cache.

class KeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/otlake_auth_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/keys.sqlite";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<KeyStore> Open() {
    auto s = KeyStore::Open(path_, true);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::string dir_, path_;
};

TEST_F(KeyStoreTest, CreateListRevokeAndTheFileHoldsNoSecret) {
  auto store = Open();
  ASSERT_TRUE(store);
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto k = store->Create(Scope::kIngest, "shop", "ci", 1000);
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  std::string_view id, secret;
  ASSERT_TRUE(ParseToken(k->token, &id, &secret));
  EXPECT_EQ(id, k->info.id);
  auto list = store->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].scope, Scope::kIngest);
  EXPECT_EQ((*list)[0].project, "shop");
  EXPECT_EQ((*list)[0].name, "ci");
  EXPECT_EQ((*list)[0].revoked_ms, 0);
  auto rv = store->Revoke(k->info.id, 2000);
  ASSERT_TRUE(rv.ok());
  EXPECT_EQ(rv->revoked_ms, 2000);
  EXPECT_EQ(store->Revoke(k->info.id, 3000)->revoked_ms, 2000);  // the first time stays
  EXPECT_TRUE(store->Revoke("ffffffffffff", 3000).status().IsKeyError());
  store.reset();
  // Neither the secret nor the whole key appears in any file of the store.
  for (const auto& f : std::filesystem::directory_iterator(dir_)) {
    std::ifstream in(f.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find(std::string(secret)), std::string::npos) << f.path();
  }
}

TEST_F(KeyStoreTest, CacheAuthenticatesAndSeesRevokeOnRefresh) {
  auto store = Open();
  auto k = store->Create(Scope::kRead, "", "", 1);
  ASSERT_TRUE(k.ok());
  KeyCache cache(path_);
  ASSERT_TRUE(cache.Refresh().ok());
  EXPECT_EQ(cache.size(), 1u);
  AuthResult r = cache.Authenticate("Bearer " + k->token);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.principal.id, k->info.id);
  EXPECT_EQ(r.principal.scope, Scope::kRead);
  EXPECT_TRUE(cache.Authenticate("bearer   " + k->token).ok());

  // Another connection (the CLI) revokes: the next refresh sees it, without a restart.
  auto cli = Open();
  ASSERT_TRUE(cli->Revoke(k->info.id, 5).ok());
  EXPECT_TRUE(cache.Authenticate("Bearer " + k->token).ok());  // not refreshed yet
  const int64_t reloads = cache.reloads();
  ASSERT_TRUE(cache.Refresh().ok());
  EXPECT_EQ(cache.reloads(), reloads + 1);
  r = cache.Authenticate("Bearer " + k->token);
  EXPECT_EQ(r.failure, AuthFailure::kRevoked);
  EXPECT_EQ(r.message.find(k->token.substr(18)), std::string::npos);
  // Nothing changed: no reload.
  ASSERT_TRUE(cache.Refresh().ok());
  EXPECT_EQ(cache.reloads(), reloads + 1);
}

TEST_F(KeyStoreTest, RefresherThreadPicksUpNewAndRevokedKeys) {
  auto cli = Open();
  KeyCacheOptions opts;
  opts.refresh_interval_ms = 20;
  KeyCache cache(path_, opts);
  cache.StartRefresher();
  auto k = cli->Create(Scope::kAdmin, "", "", 1);
  ASSERT_TRUE(k.ok());
  auto wait_for = [&](AuthFailure want) {
    for (int i = 0; i < 200; ++i) {
      if (cache.Authenticate("Bearer " + k->token).failure == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  };
  EXPECT_TRUE(wait_for(AuthFailure::kNone));
  ASSERT_TRUE(cli->Revoke(k->info.id, 2).ok());
  EXPECT_TRUE(wait_for(AuthFailure::kRevoked));
}

TEST_F(KeyStoreTest, MissingStoreIsNoKeysUntilItAppears) {
  KeyCache cache(path_);
  ASSERT_TRUE(cache.Refresh().ok());
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(std::filesystem::exists(path_));  // the cache never creates it
  auto k = Open()->Create(Scope::kIngest, "", "", 1);
  ASSERT_TRUE(k.ok());
  ASSERT_TRUE(cache.Refresh().ok());
  EXPECT_TRUE(cache.Authenticate("Bearer " + k->token).ok());
}

TEST_F(KeyStoreTest, MalformedAndWrongKeys) {
  auto store = Open();
  auto k = store->Create(Scope::kIngest, "", "", 1);
  ASSERT_TRUE(k.ok());
  KeyCache cache(path_);
  ASSERT_TRUE(cache.Refresh().ok());
  EXPECT_EQ(cache.Authenticate("").failure, AuthFailure::kMissing);
  EXPECT_EQ(cache.Authenticate("   ").failure, AuthFailure::kMissing);
  EXPECT_EQ(cache.Authenticate(k->token).failure, AuthFailure::kMalformedHeader);  // no "Bearer"
  EXPECT_EQ(cache.Authenticate("Basic dXNlcjpwYXNz").failure, AuthFailure::kMalformedHeader);
  EXPECT_EQ(cache.Authenticate("Bearer").failure, AuthFailure::kMalformedHeader);
  EXPECT_EQ(cache.Authenticate("Bearer nope").failure, AuthFailure::kMalformedKey);
  EXPECT_EQ(cache.Authenticate("Bearer " + k->token + "0").failure, AuthFailure::kMalformedKey);
  std::string wrong = k->token;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  AuthResult r = cache.Authenticate("Bearer " + wrong);
  EXPECT_EQ(r.failure, AuthFailure::kInvalid);
  EXPECT_EQ(r.message.find(wrong), std::string::npos);
  std::string other_id = k->token;
  other_id[5] = other_id[5] == 'a' ? 'b' : 'a';
  EXPECT_EQ(cache.Authenticate("Bearer " + other_id).failure, AuthFailure::kInvalid);
}

TEST_F(KeyStoreTest, LastUsedIsWrittenBack) {
  auto store = Open();
  auto k = store->Create(Scope::kIngest, "", "", 1);
  int64_t now = 50000;
  KeyCache cache(path_, {.last_used_flush_ms = 10000, .now_ms = [&] { return now; }});
  ASSERT_TRUE(cache.Refresh().ok());
  ASSERT_TRUE(cache.Authenticate("Bearer " + k->token).ok());
  now = 70000;
  ASSERT_TRUE(cache.Refresh().ok());
  EXPECT_EQ((*store->List())[0].last_used_ms, 50000);
}

TEST_F(KeyStoreTest, CheckCostsMicroseconds) {
  auto store = Open();
  std::vector<std::string> tokens;
  for (int i = 0; i < 100; ++i) tokens.push_back(store->Create(Scope::kIngest, "", "", i)->token);
  KeyCache cache(path_);
  ASSERT_TRUE(cache.Refresh().ok());
  const int n = 200000;
  const auto t0 = std::chrono::steady_clock::now();
  int okn = 0;
  for (int i = 0; i < n; ++i) okn += cache.Authenticate("Bearer " + tokens[i % tokens.size()]).ok();
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / n;
  EXPECT_EQ(okn, n);
  const auto t1 = std::chrono::steady_clock::now();
  size_t sink = 0;
  for (int i = 0; i < n; ++i) sink += HashSecret("0123456789abcdef", tokens[i % tokens.size()].substr(18))[0];
  const double hash_ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t1).count() / n;
  std::printf("[ bench    ] key check: %.0f ns per Authenticate (100 keys loaded), of which SHA-256 %.0f ns (%zu)\n",
              ns, hash_ns, sink % 2);
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  EXPECT_LT(ns, 50000);  // microseconds, not a SQLite query (release builds only)
#endif
}

}  // namespace
}  // namespace otlake::auth
