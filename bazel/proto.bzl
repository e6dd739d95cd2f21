"""`cc_grpc_proto_library`: C++ code from .proto files with Debian's protoc.

The system `protoc` and `grpc_cpp_plugin` run in a genrule, so no protobuf or
gRPC sources are fetched. Generated headers are included by their import
path, e.g. "polysync/databricks/v1/pipelines.grpc.pb.h".
"""

def cc_grpc_proto_library(
        name,
        srcs,
        import_root,
        deps = [],
        grpc = True,
        headers_only = False,
        extra_linkopts = [],
        visibility = None,
        testonly = False):
    """Generates and compiles C++ message (and gRPC service) code.

    Args:
      name: the cc_library's name.
      srcs: .proto files.
      import_root: the directory the import paths are relative to, as seen
        from the execution root (e.g. "proto" or "external/grpc_proto").
      deps: other cc_grpc_proto_library targets whose .proto files are imported.
      grpc: also run the gRPC plugin.
      headers_only: compile nothing; the code is already in a system library
        named by extra_linkopts.
      extra_linkopts: linker flags for the library.
      visibility: visibility of the cc_library.
      testonly: testonly of every generated target.
    """
    rel = []
    for src in srcs:
        path = src.split(":")[-1]
        if path.startswith("//"):
            path = path[2:]
        rel.append(path[:-len(".proto")])
    pkg_prefix = native.package_name()
    hdrs = []
    cc_srcs = []
    for r in rel:
        # r is relative to the package; the import path is relative to the root.
        hdrs.append(r + ".pb.h")
        cc_srcs.append(r + ".pb.cc")
        if grpc:
            hdrs.append(r + ".grpc.pb.h")
            cc_srcs.append(r + ".grpc.pb.cc")
    outs = hdrs + cc_srcs
    plugin = " --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin --grpc_out=$(GENDIR)/%s" % _out_root(import_root, pkg_prefix) if grpc else ""
    proto_paths = "-I" + import_root
    native.genrule(
        name = name + "_gen",
        srcs = srcs + [d + "_srcs" for d in deps],
        outs = outs,
        cmd = "protoc %s --cpp_out=$(GENDIR)/%s%s %s" % (
            proto_paths,
            _out_root(import_root, pkg_prefix),
            plugin,
            " ".join(["$(location %s)" % s for s in srcs]),
        ),
        testonly = testonly,
    )
    native.filegroup(
        name = name + "_srcs",
        srcs = srcs,
        testonly = testonly,
        visibility = visibility,
    )
    native.cc_library(
        name = name,
        hdrs = hdrs,
        srcs = [] if headers_only else cc_srcs,
        copts = ["-Wno-unused-parameter"],
        strip_include_prefix = _strip_prefix(import_root, pkg_prefix),
        deps = deps + ["@system_libs//:grpcpp", "@system_libs//:protobuf"],
        linkopts = extra_linkopts,
        visibility = visibility,
        testonly = testonly,
    )

def _out_root(import_root, pkg_prefix):
    # Where protoc must write so files land in this package's output folder.
    if import_root.startswith("external/"):
        # Generated into this package; the import path then follows the package.
        return pkg_prefix
    return import_root

def _strip_prefix(import_root, pkg_prefix):
    if import_root.startswith("external/"):
        return "/" + pkg_prefix
    return "/" + import_root
