#pragma once
/// @file
/// The library version.

#define SMILE_VERSION_MAJOR 0
#define SMILE_VERSION_MINOR 1
#define SMILE_VERSION_PATCH 0
#define SMILE_VERSION_STRING "0.1.0"
