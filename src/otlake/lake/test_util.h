// Test-only helpers for the lake tests: Status assertions, a self-removing temp directory, and
// JSON-lines reading. Header-only; included by *_test.cc files only.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "otlake/common/status.h"
#include "otlake/lake/fs_util.h"

#define OTLAKE_ASSERT_OK(expr)                                  \
  do {                                                          \
    const ::otlake::Status _st = (expr);                        \
    ASSERT_TRUE(_st.ok()) << #expr << ": " << _st.ToString();   \
  } while (0)

#define OTLAKE_CONCAT_INNER(a, b) a##b
#define OTLAKE_CONCAT(a, b) OTLAKE_CONCAT_INNER(a, b)
#define OTLAKE_ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, rexpr)              \
  auto tmp = (rexpr);                                                  \
  ASSERT_TRUE(tmp.ok()) << #rexpr << ": " << tmp.status().ToString(); \
  lhs = std::move(tmp).ValueOrDie()
#define OTLAKE_ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  OTLAKE_ASSERT_OK_AND_ASSIGN_IMPL(OTLAKE_CONCAT(_res_, __LINE__), lhs, rexpr)

namespace otlake::lake::testing {

/// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "otlake_lake_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    if (getenv("OTLAKE_KEEP_TMP") == nullptr) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

/// The JSON documents of a newline-delimited JSON file (an empty vector if unreadable).
inline std::vector<rapidjson::Document> ReadJsonLines(const std::string& path) {
  std::vector<rapidjson::Document> out;
  auto body = ReadWholeFile(path);
  if (!body.ok()) return out;
  size_t pos = 0;
  while (pos < body->size()) {
    size_t end = body->find('\n', pos);
    if (end == std::string::npos) end = body->size();
    if (end > pos) {
      rapidjson::Document d;
      d.Parse(body->data() + pos, end - pos);
      out.push_back(std::move(d));
    }
    pos = end + 1;
  }
  return out;
}

/// Names in `dir` ending with `suffix`, sorted.
inline std::vector<std::string> FilesWithSuffix(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.size() >= suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(n);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace otlake::lake::testing
