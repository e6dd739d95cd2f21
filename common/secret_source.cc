#include "common/secret_source.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/secrets.h"

namespace polysync::secrets {

struct SecretSource::State {
  enum class Kind { kEnv, kFile, kIni } kind;
  std::string name;  // variable name or file path
  std::string section;
  std::string key;
  EnvLookup env;

  // File cache, re-read when the file changes.
  mutable std::mutex mu;
  mutable bool cached = false;
  mutable struct timespec mtime = {};
  mutable off_t size = -1;
  mutable ino_t inode = 0;
  mutable std::string contents;
};

namespace {

absl::StatusOr<std::string> ReadChangedFile(const SecretSource::State& s);

}  // namespace

EnvLookup ProcessEnv() {
  return [](absl::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

EnvLookup StaticEnv(std::map<std::string, std::string> values) {
  return [values = std::move(values)](
             absl::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

SecretSource::SecretSource() = default;

SecretSource SecretSource::FromEnv(std::string variable, EnvLookup env) {
  SecretSource s;
  s.state_ = std::make_shared<State>();
  s.state_->kind = State::Kind::kEnv;
  s.state_->name = std::move(variable);
  s.state_->env = std::move(env);
  return s;
}

SecretSource SecretSource::FromFile(std::string path) {
  SecretSource s;
  s.state_ = std::make_shared<State>();
  s.state_->kind = State::Kind::kFile;
  s.state_->name = std::move(path);
  return s;
}

SecretSource SecretSource::FromIni(std::string path, std::string section,
                                   std::string key) {
  SecretSource s;
  s.state_ = std::make_shared<State>();
  s.state_->kind = State::Kind::kIni;
  s.state_->name = std::move(path);
  s.state_->section = std::move(section);
  s.state_->key = std::move(key);
  return s;
}

std::string SecretSource::Describe() const {
  if (state_ == nullptr) return "none";
  switch (state_->kind) {
    case State::Kind::kEnv:
      return absl::StrCat("env ", state_->name);
    case State::Kind::kFile:
      return absl::StrCat("file ", state_->name);
    case State::Kind::kIni:
      return absl::StrCat(state_->name, " [", state_->section, "] ",
                          state_->key);
  }
  return "none";
}

absl::StatusOr<std::string> SecretSource::Read() const {
  if (state_ == nullptr) {
    return absl::FailedPreconditionError("no secret is configured");
  }
  std::string value;
  switch (state_->kind) {
    case State::Kind::kEnv: {
      auto v = state_->env(state_->name);
      if (!v.has_value()) {
        return absl::FailedPreconditionError(
            absl::StrCat("environment variable ", state_->name, " is not set"));
      }
      value = *v;
      break;
    }
    case State::Kind::kFile: {
      auto contents = ReadChangedFile(*state_);
      if (!contents.ok()) return contents.status();
      value = *contents;
      break;
    }
    case State::Kind::kIni: {
      auto contents = ReadChangedFile(*state_);
      if (!contents.ok()) return contents.status();
      auto v = IniValue(*contents, state_->section, state_->key);
      if (!v.has_value()) {
        return absl::FailedPreconditionError(
            absl::StrCat(Describe(), " is not set"));
      }
      value = *v;
      break;
    }
  }
  value = std::string(absl::StripAsciiWhitespace(value));
  if (value.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(Describe(), " is empty"));
  }
  secrets::Register(value);
  return value;
}

namespace {

absl::StatusOr<std::string> ReadChangedFile(const SecretSource::State& s) {
  std::lock_guard<std::mutex> lock(s.mu);
  struct stat st;
  if (stat(s.name.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("secret file ", s.name, " cannot be read"));
  }
  const bool changed = !s.cached || st.st_size != s.size ||
                       st.st_ino != s.inode ||
                       st.st_mtim.tv_sec != s.mtime.tv_sec ||
                       st.st_mtim.tv_nsec != s.mtime.tv_nsec;
  if (changed) {
    std::ifstream in(s.name, std::ios::binary);
    if (!in) {
      return absl::FailedPreconditionError(
          absl::StrCat("secret file ", s.name, " cannot be read"));
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    s.contents = buffer.str();
    s.size = st.st_size;
    s.inode = st.st_ino;
    s.mtime = st.st_mtim;
    s.cached = true;
  }
  return s.contents;
}

}  // namespace

std::optional<std::string> IniValue(absl::string_view text,
                                    absl::string_view section,
                                    absl::string_view key) {
  std::string current;
  std::optional<std::string> found;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      current = std::string(
          absl::StripAsciiWhitespace(line.substr(1, line.size() - 2)));
      continue;
    }
    const auto eq = line.find('=');
    if (eq == absl::string_view::npos || current != section) continue;
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(line.substr(0, eq)),
                               key)) {
      found = std::string(absl::StripAsciiWhitespace(line.substr(eq + 1)));
    }
  }
  return found;
}

}  // namespace polysync::secrets
