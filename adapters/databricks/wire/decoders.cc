#include "adapters/databricks/wire/decoders.h"

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "adapters/databricks/wire/text.h"

namespace polysync::databricks {
namespace {

namespace sj = simdjson::ondemand;

// Nesting accepted anywhere in a document (known fields are at most ~6 deep;
// the rest is in ignored fields). Bounds our recursion, so hostile input
// cannot exhaust the stack.
constexpr int kMaxDepth = 64;

// Where we are in the document, as a chain of stack frames; turned into text
// only when an error is reported.
struct Path {
  const Path* parent = nullptr;
  std::string_view key;  // valid while the document is being decoded
  size_t index = 0;
  bool is_index = false;
  int depth = 0;

  Path Field(std::string_view k) const {
    return {this, k, 0, false, depth + 1};
  }
  Path Index(size_t i) const { return {this, {}, i, true, depth + 1}; }
};

std::string PathString(const Path& path) {
  if (path.parent == nullptr) return "$";
  std::vector<const Path*> nodes;
  for (const Path* p = &path; p->parent != nullptr; p = p->parent) {
    nodes.push_back(p);
  }
  std::string out;
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    const Path* p = *it;
    if (p->is_index) {
      absl::StrAppend(&out, "[", p->index, "]");
    } else {
      if (!out.empty()) out.push_back('.');
      out.append(EscapedPrefix(p->key, 64));
    }
  }
  // Deep paths keep their informative end.
  constexpr size_t kMaxPathBytes = 240;
  if (out.size() > kMaxPathBytes) {
    out = "..." + out.substr(out.size() - kMaxPathBytes);
  }
  return out;
}

absl::Status Error(const Path& path, absl::string_view what) {
  return absl::InternalError(absl::StrCat(PathString(path), ": ", what));
}

absl::Status SimdError(const Path& path, simdjson::error_code error,
                       absl::string_view expected) {
  switch (error) {
    case simdjson::INCORRECT_TYPE:
      return Error(path, absl::StrCat("expected ", expected));
    case simdjson::NUMBER_OUT_OF_RANGE:
      return Error(path, absl::StrCat("expected ", expected,
                                      ", got a number out of range"));
    case simdjson::EMPTY:
      return Error(path, "empty document, expected a JSON object");
    default:
      return Error(path, absl::StrCat("malformed JSON (",
                                      simdjson::error_message(error), ")"));
  }
}

// Sets *is_null; a null value is consumed.
absl::Status CheckNull(sj::value& value, const Path& path,
                       absl::string_view expected, bool* is_null) {
  if (auto error = value.is_null().get(*is_null)) {
    return SimdError(path, error, expected);
  }
  return absl::OkStatus();
}

absl::Status ReadString(sj::value& value, const Path& path, std::string* out) {
  bool is_null = false;
  if (absl::Status s = CheckNull(value, path, "string", &is_null); !s.ok()) {
    return s;
  }
  if (is_null) return absl::OkStatus();
  std::string_view text;
  if (auto error = value.get_string().get(text)) {
    return SimdError(path, error, "string");
  }
  out->assign(text.data(), text.size());
  return absl::OkStatus();
}

absl::Status ReadBool(sj::value& value, const Path& path,
                      std::optional<bool>* out) {
  bool is_null = false;
  if (absl::Status s = CheckNull(value, path, "boolean", &is_null); !s.ok()) {
    return s;
  }
  if (is_null) {
    out->reset();
    return absl::OkStatus();
  }
  bool b = false;
  if (auto error = value.get_bool().get(b)) {
    return SimdError(path, error, "boolean");
  }
  *out = b;
  return absl::OkStatus();
}

absl::Status ReadInt64(sj::value& value, const Path& path,
                       std::optional<int64_t>* out) {
  bool is_null = false;
  if (absl::Status s = CheckNull(value, path, "integer", &is_null); !s.ok()) {
    return s;
  }
  if (is_null) {
    out->reset();
    return absl::OkStatus();
  }
  int64_t n = 0;
  if (auto error = value.get_int64().get(n)) {
    return SimdError(path, error, "integer");
  }
  *out = n;
  return absl::OkStatus();
}

// An integer, or a string holding only decimal digits (as IMDS sends
// expires_in and expires_on).
absl::Status ReadIntOrDigits(sj::value& value, const Path& path,
                             std::optional<int64_t>* out) {
  constexpr absl::string_view kExpected = "integer or string of digits";
  sj::json_type type;
  if (auto error = value.type().get(type)) {
    return SimdError(path, error, kExpected);
  }
  if (type != sj::json_type::string) return ReadInt64(value, path, out);
  std::string_view text;
  if (auto error = value.get_string().get(text)) {
    return SimdError(path, error, kExpected);
  }
  int64_t n = 0;
  bool digits = !text.empty() && text.size() <= 18;
  for (char c : text) digits = digits && absl::ascii_isdigit(c);
  if (!digits || !absl::SimpleAtoi(AsAbsl(text), &n)) {
    return Error(path, absl::StrCat("expected ", kExpected, ", got \"",
                                    EscapedPrefix(text, 20), "\""));
  }
  *out = n;
  return absl::OkStatus();
}

absl::Status SkipValue(sj::value& value, const Path& path);

// Calls on_field(key, value, path_of_field) for every field of `object`.
// Every handler must consume or skip its value (SkipValue) so that the JSON
// it did not look at is still checked.
template <typename OnField>
absl::Status ReadFields(sj::object& object, const Path& path,
                        OnField&& on_field) {
  for (auto field_result : object) {
    sj::field field;
    if (auto error = std::move(field_result).get(field)) {
      return SimdError(path, error, "object");
    }
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) {
      return SimdError(path, error, "object");
    }
    const Path child = path.Field(key);
    if (child.depth > kMaxDepth) return Error(child, "nested too deeply");
    if (absl::Status s = on_field(key, field.value(), child); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// Reads an object value (null: nothing is read, *present stays false).
template <typename OnField>
absl::Status ReadObject(sj::value& value, const Path& path, OnField&& on_field,
                        bool* present = nullptr) {
  bool is_null = false;
  if (absl::Status s = CheckNull(value, path, "object", &is_null); !s.ok()) {
    return s;
  }
  if (is_null) return absl::OkStatus();
  sj::object object;
  if (auto error = value.get_object().get(object)) {
    return SimdError(path, error, "object");
  }
  if (present != nullptr) *present = true;
  return ReadFields(object, path, std::forward<OnField>(on_field));
}

// Reads an array value into *out (replacing what was there); null leaves it
// empty. read_item(value, path, T*) reads one element.
template <typename T, typename ReadItem>
absl::Status ReadArray(sj::value& value, const Path& path, std::vector<T>* out,
                       ReadItem&& read_item) {
  out->clear();
  bool is_null = false;
  if (absl::Status s = CheckNull(value, path, "array", &is_null); !s.ok()) {
    return s;
  }
  if (is_null) return absl::OkStatus();
  sj::array array;
  if (auto error = value.get_array().get(array)) {
    return SimdError(path, error, "array");
  }
  size_t index = 0;
  for (auto item_result : array) {
    const Path child = path.Index(index++);
    if (child.depth > kMaxDepth) return Error(child, "nested too deeply");
    sj::value item;
    if (auto error = std::move(item_result).get(item)) {
      return SimdError(child, error, "value");
    }
    T element{};
    if (absl::Status s = read_item(item, child, &element); !s.ok()) return s;
    out->push_back(std::move(element));
  }
  return absl::OkStatus();
}

absl::Status ReadStringArray(sj::value& value, const Path& path,
                             std::vector<std::string>* out) {
  return ReadArray(value, path, out, ReadString);
}

absl::Status SkipValue(sj::value& value, const Path& path) {
  sj::json_type type;
  if (auto error = value.type().get(type)) {
    return SimdError(path, error, "value");
  }
  switch (type) {
    case sj::json_type::object:
      return ReadObject(value, path,
                        [](std::string_view, sj::value& v, const Path& p) {
                          return SkipValue(v, p);
                        });
    case sj::json_type::array: {
      sj::array array;
      if (auto error = value.get_array().get(array)) {
        return SimdError(path, error, "array");
      }
      size_t index = 0;
      for (auto item_result : array) {
        const Path child = path.Index(index++);
        if (child.depth > kMaxDepth) return Error(child, "nested too deeply");
        sj::value item;
        if (auto error = std::move(item_result).get(item)) {
          return SimdError(child, error, "value");
        }
        if (absl::Status s = SkipValue(item, child); !s.ok()) return s;
      }
      return absl::OkStatus();
    }
    case sj::json_type::string: {
      std::string_view ignored;
      if (auto error = value.get_string().get(ignored)) {
        return SimdError(path, error, "string");
      }
      return absl::OkStatus();
    }
    case sj::json_type::number: {
      // get_double() accepts integers beyond 64 bits too (get_number() of
      // simdjson 3.0 does not), and checks the number's grammar.
      double ignored = 0;
      if (auto error = value.get_double().get(ignored)) {
        return SimdError(path, error, "number");
      }
      return absl::OkStatus();
    }
    case sj::json_type::boolean: {
      bool ignored = false;
      if (auto error = value.get_bool().get(ignored)) {
        return SimdError(path, error, "boolean");
      }
      return absl::OkStatus();
    }
    case sj::json_type::null: {
      bool is_null = false;
      if (auto error = value.is_null().get(is_null)) {
        return SimdError(path, error, "null");
      }
      if (!is_null) return Error(path, "malformed JSON (bad literal)");
      return absl::OkStatus();
    }
  }
  return Error(path, "malformed JSON (unknown value type)");
}

// Parses `body` and calls on_field(key, value, path, T*) for each top-level
// field; checks that nothing follows the document.
template <typename T, typename OnField>
absl::StatusOr<T> DecodeDocument(std::string_view body, OnField&& on_field) {
  const Path root;
  // Also keeps a null data() (a default string_view) away from memcpy.
  if (body.empty())
    return Error(root, "empty document, expected a JSON object");
  simdjson::padded_string padded(body.data(), body.size());
  sj::parser parser;
  sj::document doc;
  if (auto error = parser.iterate(padded).get(doc)) {
    return SimdError(root, error, "JSON object");
  }
  sj::object object;
  if (auto error = doc.get_object().get(object)) {
    return SimdError(root, error, "JSON object");
  }
  T out{};
  absl::Status status = ReadFields(
      object, root, [&](std::string_view key, sj::value& value, const Path& p) {
        return on_field(key, value, p, &out);
      });
  if (!status.ok()) return status;
  // simdjson 3.0 has no document::at_end(); current_location() reports
  // OUT_OF_BOUNDS exactly when every token was consumed.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return Error(root, "trailing content after the JSON document");
  }
  return out;
}

// --- One reader per type ----------------------------------------------------

absl::Status ReadUpdateStateInfo(sj::value& value, const Path& path,
                                 UpdateStateInfo* out) {
  return ReadObject(value, path,
                    [out](std::string_view key, sj::value& v, const Path& p) {
                      if (key == "update_id")
                        return ReadString(v, p, &out->update_id);
                      if (key == "state") return ReadString(v, p, &out->state);
                      if (key == "creation_time") {
                        return ReadString(v, p, &out->creation_time);
                      }
                      return SkipValue(v, p);
                    });
}

absl::Status ReadLatestUpdates(sj::value& value, const Path& path,
                               std::vector<UpdateStateInfo>* out) {
  return ReadArray(value, path, out, ReadUpdateStateInfo);
}

absl::Status ReadConfiguration(
    sj::value& value, const Path& path,
    std::vector<std::pair<std::string, std::string>>* out) {
  out->clear();
  return ReadObject(value, path,
                    [out](std::string_view key, sj::value& v, const Path& p) {
                      std::string text;
                      if (absl::Status s = ReadString(v, p, &text); !s.ok()) {
                        return s;
                      }
                      out->emplace_back(std::string(key), std::move(text));
                      return absl::OkStatus();
                    });
}

absl::Status ReadPipelineSpec(sj::value& value, const Path& path,
                              std::optional<PipelineSpec>* out) {
  PipelineSpec spec;
  bool present = false;
  absl::Status status = ReadObject(
      value, path,
      [&spec](std::string_view key, sj::value& v, const Path& p) {
        if (key == "id") return ReadString(v, p, &spec.id);
        if (key == "name") return ReadString(v, p, &spec.name);
        if (key == "continuous") return ReadBool(v, p, &spec.continuous);
        if (key == "development") return ReadBool(v, p, &spec.development);
        if (key == "photon") return ReadBool(v, p, &spec.photon);
        if (key == "configuration") {
          return ReadConfiguration(v, p, &spec.configuration);
        }
        if (key == "target") return ReadString(v, p, &spec.target);
        if (key == "catalog") return ReadString(v, p, &spec.catalog);
        if (key == "edition") return ReadString(v, p, &spec.edition);
        if (key == "channel") return ReadString(v, p, &spec.channel);
        return SkipValue(v, p);
      },
      &present);
  if (!status.ok()) return status;
  if (present) {
    *out = std::move(spec);
  } else {
    out->reset();
  }
  return absl::OkStatus();
}

absl::Status ReadPipelineStateInfo(sj::value& value, const Path& path,
                                   PipelineStateInfo* out) {
  return ReadObject(value, path,
                    [out](std::string_view key, sj::value& v, const Path& p) {
                      if (key == "pipeline_id")
                        return ReadString(v, p, &out->pipeline_id);
                      if (key == "name") return ReadString(v, p, &out->name);
                      if (key == "state") return ReadString(v, p, &out->state);
                      if (key == "health")
                        return ReadString(v, p, &out->health);
                      if (key == "cluster_id")
                        return ReadString(v, p, &out->cluster_id);
                      if (key == "creator_user_name") {
                        return ReadString(v, p, &out->creator_user_name);
                      }
                      if (key == "run_as_user_name") {
                        return ReadString(v, p, &out->run_as_user_name);
                      }
                      if (key == "latest_updates") {
                        return ReadLatestUpdates(v, p, &out->latest_updates);
                      }
                      return SkipValue(v, p);
                    });
}

absl::Status ReadPipelineField(std::string_view key, sj::value& v,
                               const Path& p, Pipeline* out) {
  if (key == "pipeline_id") return ReadString(v, p, &out->pipeline_id);
  if (key == "name") return ReadString(v, p, &out->name);
  if (key == "state") return ReadString(v, p, &out->state);
  if (key == "cause") return ReadString(v, p, &out->cause);
  if (key == "health") return ReadString(v, p, &out->health);
  if (key == "cluster_id") return ReadString(v, p, &out->cluster_id);
  if (key == "creator_user_name") {
    return ReadString(v, p, &out->creator_user_name);
  }
  if (key == "run_as_user_name") {
    return ReadString(v, p, &out->run_as_user_name);
  }
  if (key == "latest_updates") {
    return ReadLatestUpdates(v, p, &out->latest_updates);
  }
  if (key == "spec") return ReadPipelineSpec(v, p, &out->spec);
  if (key == "parameters") return ReadConfiguration(v, p, &out->parameters);
  return SkipValue(v, p);
}

absl::Status ReadUpdateInfoFields(sj::value& value, const Path& path,
                                  UpdateInfo* out, bool* present) {
  return ReadObject(
      value, path,
      [out](std::string_view key, sj::value& v, const Path& p) {
        if (key == "pipeline_id") return ReadString(v, p, &out->pipeline_id);
        if (key == "update_id") return ReadString(v, p, &out->update_id);
        if (key == "state") return ReadString(v, p, &out->state);
        if (key == "cause") return ReadString(v, p, &out->cause);
        if (key == "cluster_id") return ReadString(v, p, &out->cluster_id);
        if (key == "creation_time") {
          return ReadInt64(v, p, &out->creation_time);
        }
        if (key == "full_refresh") return ReadBool(v, p, &out->full_refresh);
        if (key == "refresh_selection") {
          return ReadStringArray(v, p, &out->refresh_selection);
        }
        if (key == "full_refresh_selection") {
          return ReadStringArray(v, p, &out->full_refresh_selection);
        }
        if (key == "validate_only") return ReadBool(v, p, &out->validate_only);
        if (key == "request_id") return ReadString(v, p, &out->request_id);
        if (key == "mode") return ReadString(v, p, &out->mode);
        if (key == "config") return ReadPipelineSpec(v, p, &out->config);
        return SkipValue(v, p);
      },
      present);
}

absl::Status ReadUpdateInfo(sj::value& value, const Path& path,
                            UpdateInfo* out) {
  return ReadUpdateInfoFields(value, path, out, nullptr);
}

// An update that may be absent or null (`latest_update`, `update`).
absl::Status ReadOptionalUpdateInfo(sj::value& value, const Path& path,
                                    std::optional<UpdateInfo>* out) {
  UpdateInfo update;
  bool present = false;
  if (absl::Status s = ReadUpdateInfoFields(value, path, &update, &present);
      !s.ok()) {
    return s;
  }
  if (present) {
    *out = std::move(update);
  } else {
    out->reset();
  }
  return absl::OkStatus();
}

// `sequence` is an object ({"control_plane_seq_no": N, "data_plane_id": ...})
// in today's API; a plain integer is accepted too.
absl::Status ReadSequence(sj::value& value, const Path& path,
                          std::optional<int64_t>* out) {
  sj::json_type type;
  if (auto error = value.type().get(type)) {
    return SimdError(path, error, "object or integer");
  }
  if (type == sj::json_type::number) return ReadInt64(value, path, out);
  if (type == sj::json_type::null) return SkipValue(value, path);
  if (type != sj::json_type::object) {
    return Error(path, "expected object or integer");
  }
  return ReadObject(value, path,
                    [out](std::string_view key, sj::value& v, const Path& p) {
                      if (key == "control_plane_seq_no") {
                        return ReadInt64(v, p, out);
                      }
                      return SkipValue(v, p);
                    });
}

absl::Status ReadEventOrigin(sj::value& value, const Path& path,
                             EventOrigin* out) {
  return ReadObject(value, path,
                    [out](std::string_view key, sj::value& v, const Path& p) {
                      if (key == "pipeline_id")
                        return ReadString(v, p, &out->pipeline_id);
                      if (key == "update_id")
                        return ReadString(v, p, &out->update_id);
                      if (key == "request_id")
                        return ReadString(v, p, &out->request_id);
                      if (key == "flow_name")
                        return ReadString(v, p, &out->flow_name);
                      if (key == "dataset_name")
                        return ReadString(v, p, &out->dataset_name);
                      if (key == "cluster_id")
                        return ReadString(v, p, &out->cluster_id);
                      return SkipValue(v, p);
                    });
}

absl::Status ReadEventException(sj::value& value, const Path& path,
                                EventException* out) {
  return ReadObject(value, path,
                    [out](std::string_view key, sj::value& v, const Path& p) {
                      if (key == "class_name")
                        return ReadString(v, p, &out->class_name);
                      if (key == "message")
                        return ReadString(v, p, &out->message);
                      return SkipValue(v, p);
                    });
}

absl::Status ReadEventError(sj::value& value, const Path& path,
                            std::optional<EventError>* out) {
  EventError error;
  bool present = false;
  absl::Status status = ReadObject(
      value, path,
      [&error](std::string_view key, sj::value& v, const Path& p) {
        if (key == "fatal") return ReadBool(v, p, &error.fatal);
        if (key == "exceptions") {
          return ReadArray(v, p, &error.exceptions, ReadEventException);
        }
        return SkipValue(v, p);
      },
      &present);
  if (!status.ok()) return status;
  if (present) {
    *out = std::move(error);
  } else {
    out->reset();
  }
  return absl::OkStatus();
}

absl::Status ReadEventDetails(sj::value& value, const Path& path,
                              PipelineEvent* out) {
  return ReadObject(
      value, path, [out](std::string_view key, sj::value& v, const Path& p) {
        if (key != "update_progress") return SkipValue(v, p);
        return ReadObject(
            v, p, [out](std::string_view k, sj::value& v2, const Path& p2) {
              if (k == "state") {
                return ReadString(v2, p2, &out->update_progress_state);
              }
              return SkipValue(v2, p2);
            });
      });
}

absl::Status ReadPipelineEvent(sj::value& value, const Path& path,
                               PipelineEvent* out) {
  return ReadObject(value, path,
                    [out](std::string_view key, sj::value& v, const Path& p) {
                      if (key == "id") return ReadString(v, p, &out->id);
                      if (key == "sequence")
                        return ReadSequence(v, p, &out->sequence);
                      if (key == "event_type")
                        return ReadString(v, p, &out->event_type);
                      if (key == "level") return ReadString(v, p, &out->level);
                      if (key == "message")
                        return ReadString(v, p, &out->message);
                      if (key == "timestamp")
                        return ReadString(v, p, &out->timestamp);
                      if (key == "origin")
                        return ReadEventOrigin(v, p, &out->origin);
                      if (key == "error")
                        return ReadEventError(v, p, &out->error);
                      if (key == "details") return ReadEventDetails(v, p, out);
                      return SkipValue(v, p);
                    });
}

absl::Status Missing(absl::string_view field) {
  return absl::InternalError(absl::StrCat(field, ": missing"));
}

// A list page: `{items_key: [...], "next_page_token": ..., "prev_page_token":
// ...}`.
template <typename Page, typename Item, typename ReadItem>
absl::StatusOr<Page> DecodePage(std::string_view body,
                                std::string_view items_key,
                                std::vector<Item> Page::*items,
                                ReadItem read_item) {
  return DecodeDocument<Page>(
      body, [items_key, items, read_item](std::string_view key, sj::value& v,
                                          const Path& p, Page* out) {
        if (key == items_key) return ReadArray(v, p, &(out->*items), read_item);
        if (key == "next_page_token") {
          return ReadString(v, p, &out->next_page_token);
        }
        if (key == "prev_page_token") {
          return ReadString(v, p, &out->prev_page_token);
        }
        return SkipValue(v, p);
      });
}

}  // namespace

absl::StatusOr<Pipeline> DecodePipeline(std::string_view body) {
  return DecodeDocument<Pipeline>(body, ReadPipelineField);
}

absl::StatusOr<ListPipelinesPage> DecodeListPipelinesPage(
    std::string_view body) {
  return DecodePage(body, "statuses", &ListPipelinesPage::statuses,
                    ReadPipelineStateInfo);
}

absl::StatusOr<UpdateInfo> DecodeUpdate(std::string_view body) {
  absl::StatusOr<std::optional<UpdateInfo>> update =
      DecodeDocument<std::optional<UpdateInfo>>(
          body, [](std::string_view key, sj::value& v, const Path& p,
                   std::optional<UpdateInfo>* out) {
            if (key == "update") return ReadOptionalUpdateInfo(v, p, out);
            return SkipValue(v, p);
          });
  if (!update.ok()) return update.status();
  if (!update->has_value()) return Missing("update");
  return std::move(**update);
}

absl::StatusOr<ListUpdatesPage> DecodeListUpdatesPage(std::string_view body) {
  return DecodePage(body, "updates", &ListUpdatesPage::updates, ReadUpdateInfo);
}

absl::StatusOr<StartUpdateResult> DecodeStartUpdateResult(
    std::string_view body) {
  absl::StatusOr<StartUpdateResult> result = DecodeDocument<StartUpdateResult>(
      body, [](std::string_view key, sj::value& v, const Path& p,
               StartUpdateResult* out) {
        if (key == "update_id") return ReadString(v, p, &out->update_id);
        if (key == "request_id") return ReadString(v, p, &out->request_id);
        return SkipValue(v, p);
      });
  if (result.ok() && result->update_id.empty()) return Missing("update_id");
  return result;
}

absl::StatusOr<RequestStatus> DecodeRequestStatus(std::string_view body) {
  return DecodeDocument<RequestStatus>(
      body, [](std::string_view key, sj::value& v, const Path& p,
               RequestStatus* out) {
        if (key == "status") return ReadString(v, p, &out->status);
        if (key == "latest_update") {
          return ReadOptionalUpdateInfo(v, p, &out->latest_update);
        }
        return SkipValue(v, p);
      });
}

absl::StatusOr<ListEventsPage> DecodeListEventsPage(std::string_view body) {
  return DecodePage(body, "events", &ListEventsPage::events, ReadPipelineEvent);
}

absl::StatusOr<DatabricksError> DecodeDatabricksError(std::string_view body) {
  return DecodeDocument<DatabricksError>(
      body, [](std::string_view key, sj::value& v, const Path& p,
               DatabricksError* out) {
        if (key == "message") return ReadString(v, p, &out->message);
        if (key != "error_code") return SkipValue(v, p);
        sj::json_type type;
        if (auto error = v.type().get(type)) {
          return SimdError(p, error, "string or integer");
        }
        if (type != sj::json_type::number) {
          return ReadString(v, p, &out->error_code);
        }
        std::optional<int64_t> code;
        if (absl::Status s = ReadInt64(v, p, &code); !s.ok()) {
          return Error(p, "expected string or integer");
        }
        out->error_code = code.has_value() ? absl::StrCat(*code) : "";
        return absl::OkStatus();
      });
}

absl::StatusOr<TokenResponse> DecodeTokenResponse(std::string_view body) {
  absl::StatusOr<TokenResponse> token = DecodeDocument<TokenResponse>(
      body, [](std::string_view key, sj::value& v, const Path& p,
               TokenResponse* out) {
        if (key == "access_token") return ReadString(v, p, &out->access_token);
        if (key == "token_type") return ReadString(v, p, &out->token_type);
        if (key == "expires_in") return ReadIntOrDigits(v, p, &out->expires_in);
        if (key == "expires_on") return ReadIntOrDigits(v, p, &out->expires_on);
        return SkipValue(v, p);
      });
  if (token.ok() && token->access_token.empty()) {
    return Missing("access_token");
  }
  return token;
}

absl::StatusOr<OAuthError> DecodeOAuthError(std::string_view body) {
  return DecodeDocument<OAuthError>(body, [](std::string_view key, sj::value& v,
                                             const Path& p, OAuthError* out) {
    if (key == "error") return ReadString(v, p, &out->error);
    if (key == "error_description") {
      return ReadString(v, p, &out->error_description);
    }
    return SkipValue(v, p);
  });
}

}  // namespace polysync::databricks
