#pragma once
/// @file
/// xtensor headers across versions: Debian 12 ships 0.24 (flat paths, xtensor/xarray.hpp);
/// 0.26 and later moved them into subfolders (xtensor/containers/xarray.hpp).

#if __has_include(<xtensor/containers/xarray.hpp>)
#include <xtensor/containers/xadapt.hpp>
#include <xtensor/containers/xarray.hpp>
#include <xtensor/containers/xtensor.hpp>
#include <xtensor/io/xnpy.hpp>
#include <xtensor/views/xview.hpp>
#else
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>
#endif
