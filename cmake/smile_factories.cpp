// The one instantiation of smile's model and method factories for default_backend that the
// tests, examples and benchmarks of this build link (the static library smile_factories); the
// files that call a factory declare it `extern template` through <smile/factory_instances.hpp>.
#define SMILE_INSTANTIATE_FACTORIES
#include <smile/factory_instances.hpp>
