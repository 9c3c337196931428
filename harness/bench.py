#!/usr/bin/env python3
"""make bench's tables and plots: bench.py OUTDIR LOGS BOOT...

Reads the BENCH lines of LOGS/bench-BOOT-{base,series}/results.log (see
harness/bench/noncoherent_bench.c), prints one table per boot with the base,
the series and their ratio, and writes into OUTDIR: BOOT.txt (that table),
BOOT.tsv (every figure) and, with gnuplot, BOOT-scaling.png (faults
against the VM's size) and BOOT-bridge.png (ADD and DEL latency against the
files attached).  Exits 1 if a boot's benchmark failed or printed nothing.
"""
import os
import re
import shutil
import subprocess
import sys

BOOTS = {"qemu": "QEMU, AMD SVM with NPT, 2 CPUs",
         "vmx": "Bochs, Intel VMX with EPT, 1 CPU"}
KERNELS = ("base", "series")


def read(path):
    """{(table, row, column): (median, min, max, runs)} and what to say:
    the benchmark's "# " lines, a non-zero exit status, assertion lines."""
    figs, notes = {}, []
    if not os.path.exists(path):
        return figs, [f"{path} is missing"]
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith("BENCH\t"):
                f8 = line.split("\t")
                if len(f8) != 8 or not f8[7].isdigit():
                    notes.append("FAILED: a cut BENCH line: " + line)
                    continue
                _, table, row, col, med, lo, hi, n = f8
                figs[(table, row, col)] = (med, lo, hi, int(n))
            elif line.startswith("# ") and not line.startswith("# vfio:"):
                notes.append(line[2:])
            elif line.startswith("=== END ") and not line.endswith(" rc=0") \
                    and " rc=0 " not in line:
                notes.append("FAILED: " + line[8:])
            elif "Assertion" in line or line.startswith("  ") and "noncoherent_bench.c" in line:
                notes.append("FAILED: " + line.strip())
    if not figs:
        notes.append(f"FAILED: no figures in {path}")
    return figs, notes


def fmt(fig):
    if fig is None or fig[3] == 0:
        return "n/a"
    med, lo, hi, n = fig
    if n == 1 or lo == hi:
        return med
    return f"{med} [{lo}-{hi}]"


def ratio(b, s):
    try:
        b, s = float(b[0]), float(s[0])
    except (TypeError, ValueError):
        return "-"
    if b == 0:
        return "=" if s == 0 else "-"
    return f"{s / b:.2f}"


def is_time(col):
    return col.startswith(("ms ", "us ", "runs/s", "ADD us", "DEL us"))


def table(boot, base, series):
    """Rows of both kernels, each table's rows together; then, where the
    series flags a memslot and the base can only attach a non-coherent
    group, the two ways side by side ("base: group, series: flag").  Under
    QEMU the guest's clock is the host's and the two boots' times do not
    compare: no ratio for them there."""
    def rat(c, b, s):
        return "(times)" if boot == "qemu" and is_time(c) else ratio(b, s)

    keys = list(dict.fromkeys(list(base) + list(series)))
    order = list(dict.fromkeys(t for t, _, _ in keys))
    keys.sort(key=lambda k: order.index(k[0]))
    rows = [(t, r, c, fmt(base.get((t, r, c))), fmt(series.get((t, r, c))),
             rat(c, base.get((t, r, c)), series.get((t, r, c)))) for t, r, c in keys]
    for t, r, c in keys:
        if r.endswith(", flag") and (t, r[:-4] + "group", c) in base:
            b = base[(t, r[:-4] + "group", c)]
            rows.append((t + " (base: group, series: flag)", r[:-6], c, fmt(b),
                         fmt(series.get((t, r, c))), rat(c, b, series.get((t, r, c)))))
    head = ("table", "row", "figure (median [min-max])", "base", "series", "series/base")
    w = [max(len(x[i]) for x in rows + [head]) for i in range(len(head))]
    out = [f"== {boot}: {BOOTS.get(boot, boot)}; base = unpatched 7.3.4, series = patched"]
    for x in [head] + rows:
        out.append("  ".join(v.ljust(w[i]) for i, v in enumerate(x)).rstrip())
    return "\n".join(out), rows


def curve(figs, table, col, row_re):
    """The (x, median) points of one figure over the rows of a table that
    match row_re, x being its first group."""
    pts = []
    for (t, r, c), v in figs.items():
        m = re.match(row_re, r)
        if t == table and c == col and m and v[3]:
            pts.append((int(m.group(1)), float(v[0])))
    return sorted(pts)


def plot(outdir, boot, base, series):
    """Two PNGs, if gnuplot is here; returns their paths."""
    if not shutil.which("gnuplot"):
        print("    no gnuplot: plots skipped (apt-get install gnuplot-nox)")
        return []
    pngs = []
    # Scaling: faults against the VM size; bridge: latency against files.
    scaling, bridge = [], []
    for kname, figs in (("base", base), ("series", series)):
        for setting in ("group", "flag"):
            pts = curve(figs, "scaling", "faults", rf"(\d+) MiB, {setting}$")
            if pts:
                scaling.append((f"{kname}, by {setting}", pts))
        for col in ("ADD us", "DEL us"):
            pts = curve(figs, "bridge", col, r"(\d+) files attached$")
            if pts:
                bridge.append((f"{kname}, {col.split()[0]}", pts))
    for name, data, xl, yl, title in (
            ("scaling", scaling, "VM size (MiB)",
             "faults to touch the VM again",
             "Making 2 MiB non-coherent: whole VM (group) or one memslot (flag)"),
            ("bridge", bridge, "files attached", "latency (us, median)",
             "KVM_DEV_VFIO_FILE ADD and DEL of one more file")):
        if not data or all(y == 0 for _, pts in data for _, y in pts):
            print(f"    no {name} plot: nothing but zeros to draw")
            continue
        dat = os.path.join(outdir, f"{boot}-{name}.dat")
        with open(dat, "w") as f:
            for label, pts in data:
                f.write(f'"{label}"\n')
                for x, y in pts:
                    f.write(f"{x} {y}\n")
                f.write("\n\n")
        png = os.path.join(outdir, f"{boot}-{name}.png")
        plots = ", ".join(f"'{dat}' index {i} with linespoints title columnheader(1)"
                          for i in range(len(data)))
        script = (f"set terminal png size 900,560\nset output '{png}'\n"
                  f"set title \"{title}\\n{BOOTS.get(boot, boot)}\" noenhanced\n"
                  f"set xlabel '{xl}'\nset ylabel '{yl}'\nset key left top noenhanced\n"
                  f"set grid\nplot {plots}\n")
        done = subprocess.run(["gnuplot"], input=script, text=True)
        if done.returncode:
            print(f"    gnuplot failed ({done.returncode}): no {png}")
            continue
        pngs.append(png)
    return pngs


def main():
    outdir, logs, boots = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(outdir, exist_ok=True)
    failed = False
    for boot in boots:
        (base, bnotes), (series, snotes) = (
            read(os.path.join(logs, f"bench-{boot}-{k}", "results.log")) for k in KERNELS)
        text, rows = table(boot, base, series)
        notes = [f"base:   {n}" for n in bnotes] + [f"series: {n}" for n in snotes]
        failed |= any(n.startswith("FAILED") for n in bnotes + snotes)
        if boot == "qemu":
            notes.append("(times): TCG's guest clock is the host's; times do not "
                         "compare across the two QEMU boots")
        text += "\n" + "\n".join("  " + n for n in notes) + "\n"
        print(text)
        with open(os.path.join(outdir, f"{boot}.txt"), "w") as f:
            f.write(text)
        with open(os.path.join(outdir, f"{boot}.tsv"), "w") as f:
            f.write("table\trow\tfigure\tbase\tseries\tseries/base\n")
            for r in rows:
                f.write("\t".join(r) + "\n")
        for png in plot(outdir, boot, base, series):
            print(f"    plot: {png}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
