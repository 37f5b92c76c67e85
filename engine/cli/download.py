"""``motionseg-trt download``: fetch the official model set's weights into the cache folder."""
from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "download", help="fetch the official model weights (resumable, sha256-checked)",
        description="Download the official model set's weights (SAM2.1, DINOv2, Depth-Anything-V2, "
                    "BootsTAPIR, the SegAnyMo classifier) from their public locations into the cache "
                    "folder ($MOTIONSEG_CACHE or ~/.cache/motionseg-trt). Interrupted downloads resume.")
    p.add_argument("--models", choices=("official",), default="official", help="model set (default official)")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="fetch only this file (repeatable); see --list for names")
    p.add_argument("--all", action="store_true", help="also fetch the optional variants (larger SAM2, ViT-S, Large depth)")
    p.add_argument("--dir", metavar="DIR", help="weights folder (default <cache>/weights)")
    p.add_argument("--url", metavar="URL", help="download --only NAME from this URL instead (a mirror)")
    p.add_argument("--sha256", metavar="HEX", help="expected sha256 of --only NAME")
    p.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds (default 30)")
    p.add_argument("--list", action="store_true", help="list the files, their URLs and whether they are present")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def main(args) -> int:
    import math

    from ..download import fetch
    from ..errors import MotionSegError, OptionError
    from ..io.output_dir import check_output_path
    from ..official_weights import OFFICIAL_WEIGHTS, weight_path, weights_dir

    if args.only:
        unknown = [n for n in args.only if n not in OFFICIAL_WEIGHTS]
        if unknown:
            raise OptionError(f"download: unknown name(s) {unknown}; known: {', '.join(OFFICIAL_WEIGHTS)}")
        chosen = [OFFICIAL_WEIGHTS[n] for n in args.only]
    else:
        chosen = [w for w in OFFICIAL_WEIGHTS.values() if w.default or args.all]
    if (args.url or args.sha256) and len(chosen) != 1:
        raise OptionError("download: --url/--sha256 need exactly one --only NAME")
    if args.sha256 and (len(args.sha256) != 64 or any(c not in "0123456789abcdefABCDEF" for c in args.sha256)):
        raise OptionError(f"download: --sha256 takes 64 hexadecimal digits, not {args.sha256!r}")
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise OptionError(f"download: --timeout must be a positive number of seconds, not {args.timeout}")
    if not args.list:
        check_output_path(str(weights_dir(args.dir)), "weights folder")

    if args.list:
        for w in chosen:
            path = weight_path(w.name, args.dir)
            print(f"{w.name:26s} {'present' if path.exists() else 'missing':8s} {path}\n{'':26s} {w.url}")
        return 0

    failures = 0
    for w in chosen:
        dest = weight_path(w.name, args.dir)
        url = args.url or w.url
        bar = _progress_bar(w.name, disable=args.no_progress or not sys.stderr.isatty())  # no bars in logs
        try:
            fetch(url, str(dest), args.sha256 or w.sha256, timeout=args.timeout, progress=bar.update)
        except MotionSegError as exc:
            bar.close()
            if len(chosen) == 1:
                raise
            print(f"motionseg-trt: {w.name}: {exc}", file=sys.stderr)
            failures += 1
            continue
        bar.close()
        print(f"{w.name}: {dest}")
    if failures:
        from ..errors import UnavailableError

        raise UnavailableError(f"{failures} of {len(chosen)} files could not be downloaded (see above); "
                               "run the command again to resume")
    return 0


class _progress_bar:  # noqa: N801 - a tiny adapter around tqdm
    def __init__(self, name: str, disable: bool):
        self.name = name
        self.disable = disable
        self.bar = None

    def update(self, done: int, total) -> None:
        if self.disable:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, unit="B", unit_scale=True, desc=self.name,
                            file=sys.stderr, leave=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
