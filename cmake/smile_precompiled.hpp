// The headers most of smile's own programs (tests, the smile program, benchmarks) include,
// compiled once per build into a precompiled header that every one of them reuses
// (SMILE_PRECOMPILED_HEADERS, CMakeLists.txt; CI's sanitizer stage turns it on). They are about
// 320,000 preprocessed lines; with them precompiled, test_io.cpp compiled in 39 s instead of 62 s
// under AddressSanitizer + UBSan at -O1, and in 22.5 s instead of 27.1 s optimised (GCC 12,
// 2026-12-07; docs/building.md). Only what is widely used belongs here; a file that includes less
// still compiles as before, with these declarations visible too.
#pragma once

#include <smile/smile.hpp>
#include <smile/factory_instances.hpp>
#include <smile/data/read_dataset.hpp>
#include <smile/io/checkpoint.hpp>
#include <smile/io/safetensors.hpp>
#include <smile/io/weights.hpp>
#include <smile/methods/registry.hpp>
#include <smile/methods/text/text_registry.hpp>
#include <smile/models/architecture.hpp>
#include <smile/models/bert/model.hpp>
#include <smile/text/text_dataset.hpp>
#include <smile/text/text_loader.hpp>
#include <smile/train/trainer.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>
