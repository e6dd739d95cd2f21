"""Repository rules that bring Debian's system libraries into the build.

Nothing is downloaded: `system_libs` runs `pkg-config` for each module and
writes one `cc_library` per library into `@system_libs`, and `system_protos`
links the .proto files of Debian's grpc-proto package into `@grpc_proto`.

    load("//bazel:system_libs.bzl", "system_libs")
    system_libs(name = "system_libs", libs = {"grpcpp": ["grpc++"]})
    # then depend on "@system_libs//:grpcpp"
"""

# Include directories the compiler searches anyway; -I flags naming them are
# dropped so that Bazel does not see absolute include paths.
_DEFAULT_INCLUDE_DIRS = ["/usr/include", "/usr/include/x86_64-linux-gnu"]

def _pkg_config(ctx, flag, modules):
    result = ctx.execute(["pkg-config", flag] + modules)
    if result.return_code != 0:
        fail("pkg-config %s %s failed (run scripts/setup.sh?): %s" %
             (flag, " ".join(modules), result.stderr))
    return result.stdout.strip().split(" ") if result.stdout.strip() else []

def _system_libs_impl(ctx):
    build = ['package(default_visibility = ["//visibility:public"])', ""]
    for name, spec in sorted(ctx.attr.libs.items()):
        modules = [m for m in spec if not m.startswith("-")]
        extra_linkopts = [m for m in spec if m.startswith("-")]
        defines = []
        linkopts = []
        if modules:
            for flag in _pkg_config(ctx, "--cflags", modules):
                if flag.startswith("-D"):
                    defines.append(flag[2:])
                elif flag.startswith("-I"):
                    if flag[2:] not in _DEFAULT_INCLUDE_DIRS:
                        fail("%s: include directory %s is not searched by default" % (name, flag))
                elif flag:
                    fail("%s: unsupported cflag %s" % (name, flag))
            linkopts = [f for f in _pkg_config(ctx, "--libs", modules) if f]
        build.append("cc_library(")
        build.append('    name = "%s",' % name)
        build.append("    defines = %s," % repr(_dedupe(defines)))
        build.append("    linkopts = %s," % repr(linkopts + extra_linkopts))
        build.append(")")
        build.append("")
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD", "\n".join(build))

def _dedupe(items):
    seen = {}
    out = []
    for item in items:
        if item not in seen:
            seen[item] = True
            out.append(item)
    return out

system_libs = repository_rule(
    implementation = _system_libs_impl,
    attrs = {
        # target name -> pkg-config module names, plus literal linker flags
        # (entries starting with "-") for libraries without a .pc file.
        "libs": attr.string_list_dict(mandatory = True),
    },
    local = True,
    environ = ["PKG_CONFIG_PATH"],
)

def _system_protos_impl(ctx):
    root = ctx.path(ctx.attr.path)
    if not root.exists:
        fail("%s is missing: install Debian's grpc-proto (scripts/setup.sh)" % ctx.attr.path)
    ctx.symlink(root.get_child("grpc"), "grpc")

    # libgrpc++_reflection was compiled from this file under src/proto/...;
    # generating headers at the same path makes them match its symbols.
    ctx.symlink(
        root.get_child("grpc").get_child("reflection").get_child("v1alpha").get_child("reflection.proto"),
        "src/proto/grpc/reflection/v1alpha/reflection.proto",
    )
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD", 'package(default_visibility = ["//visibility:public"])\n\nexports_files(glob(["**/*.proto"]))\n')

system_protos = repository_rule(
    implementation = _system_protos_impl,
    attrs = {"path": attr.string(default = "/usr/share/grpc-proto")},
    local = True,
)
