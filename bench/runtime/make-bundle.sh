#!/usr/bin/env bash
# Packs what bench/runtime/gpu-run.sh needs into .gpu/ (under 64 MiB): the .NET runtime (from gpu-bundle's cache)
# and ONE folder holding both the published tests and the published CLI (they share their dependencies), without
# the CPU libtorch, satellite resources, code coverage and Skia natives. Then copy .gpu and the two scripts to the
# tree the device tool sends:  rm -rf ../main/.gpu-ef-runtime && cp -r .gpu ../main/.gpu-ef-runtime &&
#                              cp bench/runtime/{gpu-run.sh,transformers_peer.py} ../main/.gpu-ef-runtime/
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
ver=$(ls "$(dirname "$(readlink -f "$(command -v dotnet)")")/shared/Microsoft.NETCore.App" | sort -V | tail -1)
mkdir -p .gpu && cp -f ~/.cache/gpu-bundle/dotnet-$ver.tar.xz .gpu/dotnet.tar.xz
A=.gpu/app/ExpertFlow.Tests
rm -rf .gpu/app && mkdir -p $A
dotnet publish tests/ExpertFlow.Tests/ExpertFlow.Tests.csproj -c Release -r linux-x64 --self-contained false -o $A -v q -nologo
dotnet publish src/ExpertFlow.Cli/ExpertFlow.Cli.csproj -c Release -r linux-x64 --self-contained false -o $A -v q -nologo
find $A -maxdepth 1 \( -name 'libtorch*.so*' -o -name 'libc10*.so*' -o -name 'libgomp*.so*' -o -name 'libshm*.so*' -o -name 'libnnapi*' \
  -o -name 'libjitbackend*' -o -name 'libbackend_with*' -o -name 'libaoti*' -o -name 'libtorchbind*' -o -name '*.pdb' -o -name '*.xml' \
  -o -name 'libSkiaSharp.so' -o -name 'libHarfBuzzSharp.so' \) -delete
(cd $A && rm -rf CodeCoverage alpine arm64 ubuntu macos x86 x64 cs de es fr it ja ko pl pt-BR ru tr zh-Hans zh-Hant)
cp bench/gpu-env.sh .gpu/   # sourced by every GPU-machine script
du -sh .gpu
