"""Builds the Cython extension l2sess._core on top of the C core.

The C core (csrc/) is built by CMake into a static libl2s.a, the same build
that the C unit tests, sanitizer and cross builds use, so there is one
definition of how the core is compiled (BLAKE3 SIMD objects, flags, provider).
"""
import os
import subprocess

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))


class CMakeCoreBuild(build_ext):
    def build_extensions(self):
        # A build of its own may be asked for (make liboqs-test builds a second
        # extension, against liboqs, beside the usual one).
        build_dir = os.environ.get("L2S_CMAKE_BUILD_DIR") or os.path.join(HERE, "build", "cmake-py")
        provider = os.environ.get("L2S_MLKEM_PROVIDER", "auto")
        werror = os.environ.get("L2S_WERROR", "OFF")  # ON in the project's own builds (make)
        # The node's event loop needs the QUIC transport (ngtcp2 + GnuTLS), so
        # it is required here. The daemon, benchmarks and tests are not built:
        # the sdist carries none of them.
        options = ["-DCMAKE_BUILD_TYPE=Release", "-DL2S_BUILD_TESTS=OFF", "-DL2S_BUILD_BENCH=OFF",
                   "-DL2S_BUILD_DAEMON=OFF", "-DL2S_WITH_QUIC=ON", f"-DL2S_MLKEM_PROVIDER={provider}",
                   f"-DL2S_WERROR={werror}"]
        if os.environ.get("BLAKE3_C_DIR"):  # BLAKE3's C sources, where no librust-blake3-dev ships them
            options.append(f"-DBLAKE3_C_DIR={os.environ['BLAKE3_C_DIR']}")
        subprocess.check_call(["cmake", "-S", HERE, "-B", build_dir, *options])
        subprocess.check_call(["cmake", "--build", build_dir, "--target", "l2s_loop", "-j",
                               str(os.cpu_count() or 1)])
        with open(os.path.join(build_dir, "l2s-link.txt")) as f:
            items = [x for x in f.read().strip().split(";") if x]
        libs = [x for x in items if x.endswith(".a")]
        ldflags = [x for x in items if not x.endswith(".a")]
        # pkg-config names only the library directories outside the system's:
        # one holding a shared library (a liboqs built into a prefix of its
        # own, say) must be searched at run time too. (A wheel's are then
        # rewritten by auditwheel, which copies the library in.)
        rpath = [f"-Wl,-rpath,{x[2:]}" for x in ldflags
                 if x.startswith("-L") and any(".so" in f for f in os.listdir(x[2:]))]
        # A wheel's extension goes without its symbols and debug information
        # (Python's own CFLAGS carry -g: most of an unstripped _core's size);
        # a developer's in-place or editable build keeps them for gdb.
        strip = [] if self.inplace or self.editable_mode else ["-s"]
        for ext in self.extensions:
            # Cythonized here, not when setup.py is read: the sdist then
            # carries _core.pyx, never the generated _core.c.
            ext.sources = cythonize(ext, language_level=3, compiler_directives={"embedsignature": True},
                                    quiet=True)[0].sources
            ext.extra_objects.extend(libs)
            # The static core's public symbols stay inside the extension.
            ext.extra_link_args.extend(ldflags + rpath + ["-Wl,--exclude-libs,ALL"] + strip)
            ext.depends.extend(libs)
        super().build_extensions()


core = Extension(
    "l2sess._core",
    sources=["l2sess/_core.pyx"],
    include_dirs=["csrc/include"],  # the public headers only
    extra_compile_args=["-O2"],
)

setup(ext_modules=[core], cmdclass={"build_ext": CMakeCoreBuild})
