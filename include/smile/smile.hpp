#pragma once
/// @file
/// The whole library for the configured backend (`smile::default_backend`).
///
/// Finer-grained headers can be included instead; generic headers never include a backend, so
/// code that names its backend type explicitly need not include this one.

#include <smile/version.hpp>
#include <smile/default_backend.hpp>

#include <smile/core/backend.hpp>
#include <smile/core/error.hpp>
#include <smile/core/init.hpp>
#include <smile/core/parameter.hpp>
#include <smile/core/random.hpp>
#include <smile/core/session.hpp>
#include <smile/core/shape.hpp>
#include <smile/core/tensor.hpp>

#include <smile/layers/activation.hpp>
#include <smile/layers/batch_norm2d.hpp>
#include <smile/layers/conv2d.hpp>
#include <smile/layers/flatten.hpp>
#include <smile/layers/linear.hpp>
#include <smile/layers/pooling.hpp>
#include <smile/layers/residual.hpp>
#include <smile/layers/sequential.hpp>
#include <smile/layers/tap.hpp>
