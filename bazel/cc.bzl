"""`pdlt_cc_test`: cc_test with the project's sanitizer suppressions.

The suppression files must be in every test's runfiles because .bazelrc
names them by a path relative to the test's working directory.
"""

def pdlt_cc_test(name, data = [], deps = [], size = "small", use_gtest = True, **kwargs):
    native.cc_test(
        name = name,
        size = size,
        data = data + ["//bazel:sanitizer_suppressions"],
        deps = deps + (["@system_libs//:gtest_main"] if use_gtest else []),
        **kwargs
    )
