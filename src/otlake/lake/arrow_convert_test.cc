// RowBatch -> Arrow: schema types and nullability, values and nulls through both the borrowing
// and the moving conversion, multi-batch tables, malformed batches, and sorting.
#include "otlake/lake/arrow_convert.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <set>

#include "otlake/lake/layout.h"
#include "otlake/lake/test_data.h"
#include "otlake/lake/test_util.h"

namespace otlake::lake {
namespace {

using table::TableId;
namespace mp = table::metrics_points;

TEST(ArrowConvert, SchemaTypesAndNullability) {
  for (TableId id : table::kAllTables) {
    auto schema = ArrowSchema(id);
    const auto defs = table::Columns(id);
    ASSERT_EQ(schema->num_fields(), static_cast<int>(defs.size()));
    for (size_t i = 0; i < defs.size(); ++i) {
      const auto& f = schema->field(static_cast<int>(i));
      EXPECT_EQ(f->name(), defs[i].name);
      EXPECT_EQ(f->nullable(), defs[i].nullable);
      switch (defs[i].type) {
        case table::ColType::kString: EXPECT_TRUE(f->type()->Equals(arrow::utf8())); break;
        case table::ColType::kInt64: EXPECT_TRUE(f->type()->Equals(arrow::int64())); break;
        case table::ColType::kDouble: EXPECT_TRUE(f->type()->Equals(arrow::float64())); break;
        case table::ColType::kBool: EXPECT_TRUE(f->type()->Equals(arrow::boolean())); break;
        case table::ColType::kMap: EXPECT_TRUE(f->type()->Equals(AttrMapType())); break;
      }
    }
  }
}

// The string at `r` of a utf8 or dictionary<int32, utf8> array.
std::string_view StringValue(const arrow::Array& a, int64_t r) {
  if (a.type_id() == arrow::Type::DICTIONARY) {
    const auto& d = static_cast<const arrow::DictionaryArray&>(a);
    return static_cast<const arrow::StringArray&>(*d.dictionary()).GetView(d.GetValueIndex(r));
  }
  return static_cast<const arrow::StringArray&>(a).GetView(r);
}

// Checks every value of `t` against the batch it came from.
void ExpectSameValues(const table::RowBatch& b, const arrow::Table& t) {
  ASSERT_EQ(t.num_rows(), b.num_rows());
  ASSERT_TRUE(t.Validate().ok());
  const auto defs = table::Columns(b.table());
  for (int c = 0; c < b.num_columns(); ++c) {
    auto combined = arrow::Concatenate(t.column(c)->chunks()).ValueOrDie();
    ASSERT_TRUE(combined->ValidateFull().ok()) << defs[c].name;
    const table::Column& col = b.column(c);
    int64_t nulls = 0;
    for (int64_t r = 0; r < b.num_rows(); ++r) {
      if (col.IsNull(r)) {
        ++nulls;
        EXPECT_TRUE(combined->IsNull(r)) << defs[c].name << " row " << r;
        continue;
      }
      ASSERT_TRUE(combined->IsValid(r)) << defs[c].name << " row " << r;
      switch (col.type) {
        case table::ColType::kString:
          EXPECT_EQ(StringValue(*combined, r), col.StringAt(r));
          break;
        case table::ColType::kInt64:
          EXPECT_EQ(static_cast<const arrow::Int64Array&>(*combined).Value(r), col.ints[r]);
          break;
        case table::ColType::kDouble:
          EXPECT_EQ(static_cast<const arrow::DoubleArray&>(*combined).Value(r), col.doubles[r]);
          break;
        case table::ColType::kBool:
          EXPECT_EQ(static_cast<const arrow::BooleanArray&>(*combined).Value(r), col.bools[r] != 0);
          break;
        case table::ColType::kMap: {
          const auto& m = static_cast<const arrow::MapArray&>(*combined);
          const arrow::Array& items = *m.items();
          ASSERT_EQ(m.value_length(r), col.MapEnd(r) - col.MapBegin(r)) << defs[c].name << " row " << r;
          for (int64_t k = 0; k < m.value_length(r); ++k) {
            const int64_t e = m.value_offset(r) + k, src = col.MapBegin(r) + k;
            EXPECT_EQ(StringValue(*m.keys(), e), col.MapKey(src));
            EXPECT_EQ(items.IsNull(e), col.val_valid[src] == 0);
            if (!items.IsNull(e)) EXPECT_EQ(StringValue(items, e), col.MapValue(src));
          }
          break;
        }
      }
    }
    EXPECT_EQ(combined->null_count(), nulls) << defs[c].name;
  }
}

TEST(ArrowConvert, BorrowKeepsValuesAndNullsForEveryTable) {
  for (TableId id : table::kAllTables) {
    testing::GenOptions o;
    o.exotic = true;
    auto b = testing::MakeBatch(id, 300, o);
    OTLAKE_ASSERT_OK_AND_ASSIGN(auto t, BorrowAsTable({b.get()}));
    const auto plain = ArrowSchema(id);
    ASSERT_EQ(t->schema()->num_fields(), plain->num_fields());
    for (int i = 0; i < plain->num_fields(); ++i) {
      const auto& f = t->schema()->field(i);
      EXPECT_EQ(f->name(), plain->field(i)->name());
      EXPECT_EQ(f->nullable(), plain->field(i)->nullable());
      // Dictionary string columns become Arrow dictionaries; maps (dictionary maps expanded)
      // hold their keys as codes into one dictionary.
      const bool dict = b->column(i).dict && plain->field(i)->type()->Equals(arrow::utf8());
      const bool map = plain->field(i)->type()->id() == arrow::Type::MAP;
      EXPECT_EQ(b->column(i).dict, table::IsDictColumn(i)) << f->name();
      EXPECT_TRUE(f->type()->Equals(dict  ? arrow::dictionary(arrow::int32(), arrow::utf8())
                                    : map ? AttrMapDictKeyType(b->column(i).dict)
                                          : plain->field(i)->type()))
          << f->name();
    }
    ExpectSameValues(*b, *t);
  }
}

TEST(ArrowConvert, DictColumnsHoldEachValueOnceAndUnifyAcrossBatches) {
  // Two "requests" with one resource each, the second's service repeated from the first.
  table::RowBatch a(TableId::kLogs), b(TableId::kLogs);
  auto fill = [](table::RowBatch* batch, int rows, const std::vector<std::string>& services) {
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < batch->num_columns(); ++c) {
        const table::Column& col = batch->column(c);
        if (c == table::kServiceName) {
          batch->AppendString(c, services[r * services.size() / rows]);
        } else if (col.type == table::ColType::kString) {
          batch->AppendString(c, "v" + std::to_string(r % 3));
        } else {
          batch->AppendNull(c);
        }
      }
      batch->FinishRow();
    }
  };
  fill(&a, 100, {"cart", "checkout"});
  fill(&b, 50, {"checkout", "email"});
  const table::Column& sa = a.column(table::kServiceName);
  ASSERT_TRUE(sa.dict);
  EXPECT_EQ(sa.num_entries(), 2);  // not 100 copies
  EXPECT_EQ(sa.chars, "cartcheckout");
  EXPECT_EQ(sa.StringAt(49), "cart");
  EXPECT_EQ(sa.StringAt(50), "checkout");
  // A plain column keeps a value per row.
  EXPECT_EQ(a.column(table::logs::kBody).num_entries(), 100);
  // A value coming back after another gets a second entry (unified per file).
  EXPECT_EQ(a.column(table::kEventDate).num_entries(), 100);

  OTLAKE_ASSERT_OK_AND_ASSIGN(auto t, BorrowAsTable({&a, &b}));
  auto services = t->GetColumnByName("service_name");
  ASSERT_EQ(services->num_chunks(), 1);
  const auto& d = static_cast<const arrow::DictionaryArray&>(*services->chunk(0));
  ASSERT_TRUE(d.ValidateFull().ok());
  ASSERT_EQ(d.dictionary()->length(), 3);  // cart, checkout, email: each once
  const auto dates = std::static_pointer_cast<arrow::DictionaryArray>(
      t->GetColumnByName("event_date")->chunk(0));
  EXPECT_EQ(dates->dictionary()->length(), 3);  // v0 v1 v2
  table::RowBatch both(TableId::kLogs);
  both.AppendBatch(a);
  both.AppendBatch(b);
  EXPECT_EQ(both.column(table::kServiceName).num_entries(), 4);
  ExpectSameValues(both, *t);

  // Columns asked for dense (a sort key) are plain strings.
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto dense, BorrowAsTable({&a, &b}, {"service_name"}));
  EXPECT_TRUE(dense->GetColumnByName("service_name")->type()->Equals(arrow::utf8()));
  ExpectSameValues(both, *dense);

  // Truncation drops rows, not the entries they may share with kept rows.
  a.Truncate(60);
  EXPECT_EQ(a.column(table::kServiceName).StringAt(59), "checkout");
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto cut, BorrowAsTable({&a}));
  EXPECT_EQ(cut->num_rows(), 60);
}

TEST(ArrowConvert, RejectsDictCodesOutOfRange) {
  auto b = testing::MakeBatch(TableId::kSpans, 5);
  b->mutable_column(table::kResourceAttrsTypes).codes.back() = 99;
  EXPECT_TRUE(BorrowAsTable({b.get()}).status().IsInvalid());
}

TEST(ArrowConvert, BorrowIsZeroCopyForStringsAndNumbers) {
  auto b = testing::MakeBatch(TableId::kSpans, 10);
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto t, BorrowAsTable({b.get()}));
  const auto& names = *t->column(table::spans::kName)->chunk(0)->data();
  EXPECT_EQ(names.buffers[2]->data(),
            reinterpret_cast<const uint8_t*>(b->column(table::spans::kName).chars.data()));
  const auto& ts = *t->column(table::kEventTs)->chunk(0)->data();
  EXPECT_EQ(ts.buffers[1]->data(),
            reinterpret_cast<const uint8_t*>(b->column(table::kEventTs).ints.data()));
}

TEST(ArrowConvert, MultipleBatchesBecomeChunksAndEmptyOnesAreSkipped) {
  testing::GenOptions o1, o2;
  o2.seed = 2;
  o2.exotic = true;
  auto a = testing::MakeBatch(TableId::kMetricsHist, 40, o1);
  auto empty = testing::MakeBatch(TableId::kMetricsHist, 0, o1);
  auto b = testing::MakeBatch(TableId::kMetricsHist, 25, o2);
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto t, BorrowAsTable({a.get(), empty.get(), b.get()}));
  EXPECT_EQ(t->num_rows(), 65);
  EXPECT_EQ(t->column(table::kEventTs)->num_chunks(), 2);
  EXPECT_EQ(t->column(table::kProjectId)->num_chunks(), 1);  // a dictionary column: unified
  table::RowBatch both(TableId::kMetricsHist);
  both.AppendBatch(*a);
  both.AppendBatch(*b);
  ExpectSameValues(both, *t);
}

// Map keys are held once per batch as codes: lists in the same or another order, new keys past
// the hash table's first sizes, repeated keys refused by AppendMapUnique, batches appended to
// each other and cut back; BorrowAsTable gives every row its keys and values.
TEST(ArrowConvert, MapKeysAreHeldOnceAsCodesThroughAppendBatchAndTruncate) {
  const int col = table::spans::kSpanAttrs;
  auto fill = [&](table::RowBatch* batch, int rows, int salt) {
    for (int r = 0; r < rows; ++r) {
      table::AttrMap m;
      const int n = 3 + (r + salt) % 5;
      for (int k = 0; k < n; ++k) {
        // The same keys in the same order for most rows, shifted for some; a new key now and then.
        const int key = (r % 7 == 3 ? n - 1 - k : k) + (r % 11 == 0 ? 100 + r : 0);
        m.Add("attr.key." + std::to_string(key + salt), "v" + std::to_string(r * 10 + k), k == 1 ? 'e' : 's');
      }
      for (int c = 0; c < batch->num_columns(); ++c) {
        if (c == col) {
          ASSERT_TRUE(batch->AppendMapUnique(c, m));
        } else if (c == col + 1) {
          batch->AppendString(c, m.types);
        } else {
          batch->AppendNull(c);
        }
      }
      batch->FinishRow();
    }
  };
  table::RowBatch a(TableId::kSpans), b(TableId::kSpans);
  fill(&a, 200, 0);
  fill(&b, 150, 3);
  const table::Column& ca = a.column(col);
  std::set<std::string_view> distinct;
  for (size_t e = 0; e < ca.key_codes.size(); ++e) distinct.insert(ca.MapKey(static_cast<int64_t>(e)));
  EXPECT_EQ(ca.num_keys(), static_cast<int64_t>(distinct.size()));  // each key once, not once per entry
  EXPECT_GT(ca.key_codes.size(), 4 * distinct.size());
  // A list with a repeated key is refused whole.
  table::AttrMap dup;
  dup.Add("attr.key.1", "x", 's');
  dup.Add("attr.key.2", "y", 's');
  dup.Add("attr.key.1", "z", 's');
  const size_t entries = ca.key_codes.size();
  EXPECT_FALSE(a.AppendMapUnique(col, dup));
  EXPECT_EQ(ca.key_codes.size(), entries);
  EXPECT_EQ(ca.val_valid.size(), entries);
  // b's rows after a's: b's key codes are a's codes for the same keys.
  table::RowBatch both(TableId::kSpans);
  both.AppendBatch(a);
  both.AppendBatch(b);
  both.Truncate(330);
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto t, BorrowAsTable({&both, &a}));
  EXPECT_EQ(t->num_rows(), 530);
  table::RowBatch cut(TableId::kSpans);
  cut.AppendBatch(both);
  ExpectSameValues(both, *BorrowAsTable({&both}).ValueOrDie());
  ExpectSameValues(cut, *BorrowAsTable({&cut}).ValueOrDie());
  for (int64_t r = 0; r < 330; ++r) {
    const table::RowBatch& src = r < 200 ? a : b;
    const int64_t sr = r < 200 ? r : r - 200;
    const table::Column& s = src.column(col);
    const table::Column& d = both.column(col);
    ASSERT_EQ(d.MapEnd(r) - d.MapBegin(r), s.MapEnd(sr) - s.MapBegin(sr));
    for (int64_t k = 0; k < d.MapEnd(r) - d.MapBegin(r); ++k) {
      EXPECT_EQ(d.MapKey(d.MapBegin(r) + k), s.MapKey(s.MapBegin(sr) + k));
    }
  }
}

TEST(ArrowConvert, MoveOwnsTheData) {
  testing::GenOptions o;
  o.exotic = true;
  auto b = testing::MakeBatch(TableId::kMetricsPoints, 200, o);
  table::RowBatch copy(TableId::kMetricsPoints);
  copy.AppendBatch(*b);
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto t, MoveToTable(std::move(*b)));
  b.reset();  // the table must not depend on the batch any more
  ExpectSameValues(copy, *t);
}

TEST(ArrowConvert, RejectsMalformedAndMixedBatches) {
  auto b = testing::MakeBatch(TableId::kLogs, 5);
  b->mutable_column(table::kEventTs).ints.pop_back();
  EXPECT_TRUE(BorrowAsTable({b.get()}).status().IsInvalid());
  auto logs = testing::MakeBatch(TableId::kLogs, 5);
  auto spans = testing::MakeBatch(TableId::kSpans, 5);
  EXPECT_TRUE(BorrowAsTable({logs.get(), spans.get()}).status().IsInvalid());
}

TEST(ArrowConvert, SortTableOrdersByKey) {
  auto b = testing::MakeBatch(TableId::kSpans, 2000);
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto t, BorrowAsTable({b.get()}));
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto sorted, SortTable(t, {"trace_id", "start_time_unix_nano", "span_id"}));
  ASSERT_EQ(sorted->num_rows(), 2000);
  auto trace = arrow::Concatenate(sorted->GetColumnByName("trace_id")->chunks()).ValueOrDie();
  auto start =
      arrow::Concatenate(sorted->GetColumnByName("start_time_unix_nano")->chunks()).ValueOrDie();
  const auto& tr = static_cast<const arrow::StringArray&>(*trace);
  const auto& st = static_cast<const arrow::Int64Array&>(*start);
  for (int64_t i = 1; i < tr.length(); ++i) {
    ASSERT_LE(tr.GetView(i - 1), tr.GetView(i));
    if (tr.GetView(i - 1) == tr.GetView(i)) {
      ASSERT_LE(st.Value(i - 1), st.Value(i));
    }
  }
}

TEST(ArrowConvert, SortPutsNullsLast) {
  testing::GenOptions o;
  o.exotic = true;
  auto b = testing::MakeBatch(TableId::kMetricsPoints, 100, o);
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto t, BorrowAsTable({b.get()}));
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto sorted, SortTable(t, {"value_int"}));
  auto v = arrow::Concatenate(sorted->GetColumnByName("value_int")->chunks()).ValueOrDie();
  ASSERT_GT(v->null_count(), 0);
  for (int64_t i = 0; i < v->length(); ++i) {
    EXPECT_EQ(v->IsNull(i), i >= v->length() - v->null_count()) << i;
  }
}

}  // namespace
}  // namespace otlake::lake
