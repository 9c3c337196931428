#!/usr/bin/env python3
"""Turn the logs of one or more boots into one summary.

For each boot folder (console.log, results.log, problems.txt):
  - KUnit: the KTAP test-case lines (indent of 4) in console.log;
  - selftests: each "=== BEGIN t" .. "=== END t rc=N" block of results.log.
    A block whose output has TAP result lines counts each of them; otherwise
    the exit code decides (0 pass, 4 skip as in kselftest, else fail). A
    non-zero exit with no failing TAP line is one more failure, and so is a
    block that never ended.
  - problems.txt (timeout, crash, kernel splats) counts one failure each.
Writes summary.txt beside the logs (or to the file after -o); prints
failures, skips with their reasons, each boot's wall time and the line
"N passed, N failed, N skipped".  A boot is named by its folder, prefixed
with the base when the folder is <BUILD>/<base>/logs/<boot>: "7.3/check".
"""
import os
import re
import sys

TAP = re.compile(r'^\s*(not ok|ok) \d+ (?:- )?(.*?)(?:\s*#\s*(SKIP|skip|TODO)\s*(.*))?$')
KTAP_CASE = re.compile(r'^(?:\[[^\]]*\] )?    (not ok|ok) \d+ (\S.*?)(?:\s+#\s*(SKIP)\s*(.*))?$')
KTAP_SUITE = re.compile(r'^(?:\[[^\]]*\] )?    # Subtest: (\S+)')


def skip_reason(lines):
    for line in reversed(lines):
        if re.search(r'skip|not supported|requirement|not met|not available', line, re.I):
            return line.strip()[:160]
    return lines[-1].strip()[:160] if lines else 'no output'


def selftests(path, boot):
    results = []
    cur = None
    out = []
    for raw in open(path, errors='replace'):
        line = raw.rstrip('\n')
        if line.startswith('=== BEGIN '):
            cur, out = line[10:].strip(), []
        elif line.startswith('=== END ') and cur is not None:
            rc = int(re.search(r'rc=(\d+)', line).group(1))
            results.extend(block(boot, cur, rc, out))
            cur = None
        elif cur is not None:
            out.append(line)
    if cur is not None:
        results.append(('fail', f'{boot}: {cur}', 'did not finish (guest died or timed out)'))
    return results


def block(boot, test, rc, out):
    res = []
    for line in out:
        m = TAP.match(line)
        if not m or line.lstrip().startswith('ok 0'):
            continue
        ok, name, directive, why = m.groups()
        full = f'{boot}: {test}: {name}'
        if directive and directive.lower() == 'skip':
            res.append(('skip', full, why.strip() or 'skipped'))
        elif ok == 'ok':
            res.append(('pass', full, ''))
        else:
            res.append(('fail', full, 'not ok'))
    name = f'{boot}: {test}'
    if not res:
        if rc == 0:
            res.append(('pass', name, ''))
        elif rc == 4:
            res.append(('skip', name, skip_reason(out)))
        else:
            res.append(('fail', name, f'exit {rc}: {out[-1].strip() if out else "no output"}'[:200]))
    elif rc not in (0, 4) and not any(r[0] == 'fail' for r in res):
        res.append(('fail', name, f'exit {rc} after its TAP lines'))
    return res


def kunit(path, boot):
    res = []
    suite = '?'
    for raw in open(path, errors='replace'):
        line = raw.rstrip('\n').replace('\r', '')
        m = KTAP_SUITE.match(line)
        if m:
            suite = m.group(1)
            continue
        m = KTAP_CASE.match(line)
        if m:
            ok, name, directive, why = m.groups()
            full = f'{boot}: kunit {suite}.{name}'
            if directive:
                res.append(('skip', full, why or 'skipped'))
            else:
                res.append(('pass' if ok == 'ok' else 'fail', full, '' if ok == 'ok' else 'not ok'))
    return res


def boot_name(d):
    parts = os.path.normpath(os.path.abspath(d)).split(os.sep)
    if len(parts) >= 3 and parts[-2] == 'logs':
        return f'{parts[-3]}/{parts[-1]}'
    return parts[-1]


def main(args):
    out = None
    if args[:1] == ['-o']:
        out, args = args[1], args[2:]
    dirs = args
    results = []
    times = []
    for d in dirs:
        boot = boot_name(d)
        if not os.path.exists(os.path.join(d, 'results.log')):
            results.append(('fail', boot, f'no results: the boot did not run ({d})'))
            continue
        secs = os.path.join(d, 'seconds')
        if os.path.exists(secs):
            times.append(f'{boot} {open(secs).read().strip()} s')
        results += kunit(os.path.join(d, 'console.log'), boot)
        results += selftests(os.path.join(d, 'results.log'), boot)
        prob = os.path.join(d, 'problems.txt')
        if os.path.exists(prob):
            for p in open(prob):
                if p.strip():
                    results.append(('fail', boot, f'{p.strip()} (log: {d}/console.log)'))
    n = {k: sum(1 for r in results if r[0] == k) for k in ('pass', 'fail', 'skip')}
    out = out or os.path.join(os.path.dirname(os.path.normpath(dirs[0])), 'summary.txt')
    with open(out, 'w') as f:
        for r in results:
            f.write(f'{r[0].upper():4} {r[1]}' + (f' -- {r[2]}' if r[2] else '') + '\n')
    for kind in ('skip', 'fail'):
        for r in results:
            if r[0] == kind:
                print(f'{kind.upper():4} {r[1]} -- {r[2]}')
    for d in dirs:
        report = os.path.join(d, 'report.txt')
        if os.path.exists(report):
            print(f'first kernel report of {boot_name(d)}:')
            for line in open(report, errors='replace'):
                print('    | ' + line.rstrip())
    if times:
        print('boot times: ' + ', '.join(times))
    if not results:
        print('FAIL no test ran')
        n['fail'] += 1
    print(f"{n['pass']} passed, {n['fail']} failed, {n['skip']} skipped")
    return 1 if n['fail'] else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
