// The translation unit that owns smile's precompiled header (cmake/smile_precompiled.hpp); it
// has no code of its own.
