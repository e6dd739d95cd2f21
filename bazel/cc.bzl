"""`pdlt_cc_test`: cc_test with the project's sanitizer suppressions.

The suppression files must be in every test's runfiles because .bazelrc
names them by a path relative to the test's working directory.

`pdlt_cc_test_both_apis`: one test against both API shapes of the simulated
workspace (tests/testing/simulator_api.h).
"""

def pdlt_cc_test(name, data = [], deps = [], size = "small", use_gtest = True, **kwargs):
    native.cc_test(
        name = name,
        size = size,
        data = data + ["//bazel:sanitizer_suppressions"],
        deps = deps + (["@system_libs//:gtest_main"] if use_gtest else []),
        **kwargs
    )

def pdlt_cc_test_both_apis(name, srcs, deps = [], copts = [], env = {}, **kwargs):
    """A gtest test run against each API shape of the simulated workspace.

    `name` runs with PDLT_SIMULATOR_API=current (today's API) and
    `name + "_legacy"` with PDLT_SIMULATOR_API=legacy (the retired guide's
    shapes). The sources are compiled once, into `name + "_lib"`; the other
    arguments (data, size, tags, ...) go to both tests.
    """
    native.cc_library(
        name = name + "_lib",
        testonly = True,
        srcs = srcs,
        copts = copts,
        deps = deps + [
            "//tests/testing:simulator_api",
            "@system_libs//:gtest_main",
        ],
        alwayslink = True,
        visibility = ["//visibility:private"],
    )
    for suffix, api in [("", "current"), ("_legacy", "legacy")]:
        pdlt_cc_test(
            name = name + suffix,
            deps = [":" + name + "_lib"],
            env = dict(env, PDLT_SIMULATOR_API = api),
            **kwargs
        )
