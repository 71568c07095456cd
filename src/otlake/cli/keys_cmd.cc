#include "otlake/cli/keys_cmd.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <iostream>

#include "otlake/common/file_util.h"
#include "otlake/common/log.h"
#include "otlake/common/time_util.h"
#include "otlake/receiver/receiver.h"

namespace otlake::cli {
namespace {

int KeysUsage(const std::string& msg) {
  std::cerr << "otlake keys: " << msg << "\nTry 'otlake keys --help'.\n";
  return 2;
}

std::string Time(int64_t ms) { return ms == 0 ? "-" : UtcIso8601(ms); }

std::string InfoJson(const auth::KeyInfo& k, const std::string* token) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  auto str = [&](const char* key, const std::string& v) {
    w.Key(key);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  };
  auto time = [&](const char* key, int64_t ms) {
    w.Key(key);
    if (ms == 0) {
      w.Null();
    } else {
      const std::string t = UtcIso8601(ms);
      w.String(t.c_str(), static_cast<rapidjson::SizeType>(t.size()));
    }
  };
  w.StartObject();
  str("id", k.id);
  str("name", k.name);
  str("scope", auth::ScopeName(k.scope));
  w.Key("project");
  if (k.project.empty()) {
    w.Null();
  } else {
    w.String(k.project.c_str(), static_cast<rapidjson::SizeType>(k.project.size()));
  }
  time("created_utc", k.created_ms);
  time("last_used_utc", k.last_used_ms);
  w.Key("revoked");
  w.Bool(k.revoked_ms != 0);
  time("revoked_utc", k.revoked_ms);
  if (token != nullptr) str("key", *token);
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace

std::vector<OptionSpec> KeysSpecs() {
  return {{"I", "instance-id", "ID", "default", "Instance name (a folder under --dir)"},
          {"D", "dir", "DIR", "./otlake_data", "Parent directory of instances"},
          {"s", "scope", "SCOPE", "", "create: admin, ingest or read"},
          {"p", "project", "P", "", "create: limit an ingest or read key to this project"},
          {"n", "name", "NAME", "", "create: a label for people (e.g. who holds the key)"},
          {"", "json", "", "", "Print JSON (one object per line) instead of a table"}};
}

OptionSpec AuthModeSpec() {
  return {"", "auth", "MODE", "open",
          "open: only /v3/* needs an API key; required: /v1/* needs an ingest key and /api/* a read key (docs/auth.md)"};
}

int RunKeys(const Args& a, const std::string& root) {
  const auto& pos = a.positional();
  if (pos.empty()) return KeysUsage("missing subcommand: create, list or revoke");
  const std::string& sub = pos[0];
  if (sub != "create" && sub != "list" && sub != "revoke") {
    return KeysUsage("unknown subcommand '" + sub + "': use create, list or revoke");
  }
  if (sub == "revoke" ? pos.size() != 2 : pos.size() != 1) {
    return KeysUsage(sub == "revoke" ? "revoke takes one key ID (see 'otlake keys list')"
                                     : "unexpected argument '" + pos.back() + "'");
  }
  if (sub != "create") {
    for (const char* f : {"scope", "project", "name"}) {
      if (a.Has(f)) return KeysUsage(std::string("--") + f + " is for 'keys create' only");
    }
  }
  auth::Scope scope = auth::Scope::kRead;
  if (sub == "create") {
    if (!a.Has("scope")) return KeysUsage("create needs --scope admin|ingest|read");
    if (!auth::ParseScope(a.Get("scope"), &scope)) {
      return KeysUsage("--scope must be admin, ingest or read, got '" + a.Get("scope") + "'");
    }
    if (a.Has("project") && !receiver::IsValidProjectId(a.Get("project"))) {
      return KeysUsage("invalid --project '" + a.Get("project") + "': use 1-128 of A-Z a-z 0-9 . _ -");
    }
    if (a.Has("project") && scope == auth::Scope::kAdmin) {
      return KeysUsage("--project limits ingest and read keys; an admin key covers every project");
    }
    if (a.Get("name").size() > 255) return KeysUsage("--name is at most 255 characters");
  }
  if (!PathExists(root + "/configs")) {
    std::cerr << "otlake keys: no instance at " << root << " (run 'otlake init' first)\n";
    return 1;
  }
  const std::string path = auth::KeyStorePath(root);
  if (sub != "create" && !PathExists(path)) {
    if (sub == "revoke") {
      std::cerr << "otlake keys: no key with id '" << pos[1] << "' (no key was ever created)\n";
      return 1;
    }
    if (!a.Flag("json")) std::cout << "No API keys. Create one with 'otlake keys create --scope ...'.\n";
    return 0;
  }
  auto store = auth::KeyStore::Open(path, /*create=*/true);
  if (!store.ok()) {
    std::cerr << "otlake keys: " << store.status().message() << "\n";
    return 1;
  }
  if (sub == "create") {
    auto k = (*store)->Create(scope, a.Get("project"), a.Get("name"), NowUnixMillis());
    if (!k.ok()) {
      std::cerr << "otlake keys: " << k.status().message() << "\n";
      return 1;
    }
    if (a.Flag("json")) {
      std::cout << InfoJson(k->info, &k->token) << "\n";
      return 0;
    }
    std::cout << k->token << "\n";
    std::cerr << "Created " << auth::ScopeName(scope) << " key " << k->info.id
              << (k->info.project.empty() ? "" : " for project '" + k->info.project + "'")
              << ". This is the only time the key is shown: store it now.\n"
              << "Send it as 'Authorization: Bearer <key>'.\n";
    return 0;
  }
  if (sub == "revoke") {
    auto k = (*store)->Revoke(pos[1], NowUnixMillis());
    if (!k.ok()) {
      std::cerr << "otlake keys: " << k.status().message() << "\n";
      return 1;
    }
    if (a.Flag("json")) {
      std::cout << InfoJson(*k, nullptr) << "\n";
    } else {
      std::cout << "Revoked key " << k->id << " (" << Time(k->revoked_ms)
                << "); a running server refuses it within a second.\n";
    }
    return 0;
  }
  auto list = (*store)->List();
  if (!list.ok()) {
    std::cerr << "otlake keys: " << list.status().message() << "\n";
    return 1;
  }
  if (a.Flag("json")) {
    for (const auth::KeyInfo& k : *list) std::cout << InfoJson(k, nullptr) << "\n";
    return 0;
  }
  if (list->empty()) {
    std::cout << "No API keys. Create one with 'otlake keys create --scope ...'.\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auth::KeyInfo& k : *list) {
    rows.push_back({k.id, k.name.empty() ? "-" : k.name, auth::ScopeName(k.scope),
                    k.project.empty() ? "(all)" : k.project, Time(k.created_ms), Time(k.last_used_ms),
                    k.revoked_ms ? Time(k.revoked_ms) : "no"});
  }
  PrintTable({"ID", "NAME", "SCOPE", "PROJECT", "CREATED", "LAST USED", "REVOKED"}, rows,
             {false, false, false, false, false, false, false});
  return 0;
}

std::unique_ptr<auth::KeyCache> StartKeyCache(const Args& a, const std::string& root,
                                              auth::Mode* mode, std::string* error) {
  if (!auth::ParseMode(a.Get("auth"), mode)) {
    *error = "--auth must be open or required, got '" + a.Get("auth") + "'";
    return nullptr;
  }
  const std::string path = auth::KeyStorePath(root);
  if (*mode == auth::Mode::kRequired) {
    auto store = auth::KeyStore::Open(path, /*create=*/true);
    if (!store.ok()) {
      *error = store.status().message();
      return nullptr;
    }
  }
  auto cache = std::make_unique<auth::KeyCache>(path);
  Status st = cache->Refresh();
  if (!st.ok()) {
    *error = st.message();
    return nullptr;
  }
  cache->StartRefresher();
  if (*mode == auth::Mode::kRequired) {
    OTLAKE_LOG(INFO) << "--auth required: " << cache->size() << " API key(s) loaded from " << path;
    if (cache->size() == 0) {
      OTLAKE_LOG(WARN) << "--auth required but no API key exists yet: every ingest and read gets 401 "
                          "until one is created with 'otlake keys create'";
    }
  }
  return cache;
}

}  // namespace otlake::cli
