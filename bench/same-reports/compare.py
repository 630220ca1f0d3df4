#!/usr/bin/env python3
"""report.json of each scenario, before and after, with timings redacted as
stressor_schema::Report::redact_timings does (run start/duration, step durations, step
timelines, retrain_wall_ms metrics, p50/p99 latency, the recommender's warm-up wall time); prints identical/different per scenario."""
import json, sys, hashlib, os
def redact(path):
    r = json.load(open(path))
    r.get('run', {}).pop('started_at', None); r.get('run', {}).pop('duration_ms', None)
    for step in r.get('steps', []):
        step.pop('duration_ms', None); step.pop('timeline', None)
        for p in step.get('points', []):
            m = p.get('metrics', {})
            for k in [k for k in m if k.startswith('retrain_wall_ms') or k in ('p50_ms', 'p99_ms')]: m.pop(k)
        for b in (step.get('recsys_timeline') or {}).get('buckets', []):
            b['p50_ms'] = None; b['p99_ms'] = None
        step.get('parameters', {}).pop('warm-up wall time', None)
    return json.dumps(r, ensure_ascii=False, separators=(',', ':'))
root = sys.argv[1]
for s in sys.argv[2:]:
    a, b = f'{root}/before/{s}/report.json', f'{root}/after/{s}/report.json'
    if not (os.path.exists(a) and os.path.exists(b)):
        print(f'{s}: missing ({os.path.exists(a)}, {os.path.exists(b)})'); continue
    ra, rb = redact(a), redact(b)
    h = lambda t: hashlib.sha256(t.encode()).hexdigest()[:16]
    same = ra == rb
    print(f'{s}: {"identical" if same else "DIFFERENT"} ({len(ra)} bytes redacted, sha256 {h(ra)} / {h(rb)})')
    if not same:
        import difflib
        for line in list(difflib.unified_diff(json.dumps(json.loads(ra), indent=1).splitlines(), json.dumps(json.loads(rb), indent=1).splitlines(), lineterm='', n=0))[:20]:
            print('   ', line)

def shape(path):
    r = json.load(open(path))
    steps = [(s['id'], s['kind'], [sorted(p.get('metrics', {}).keys()) for p in s.get('points', [])]) for s in r['steps']]
    gates = [(g.get('id'), g.get('passed')) for g in r.get('gates', [])]
    return steps, gates, r['run'].get('verdict')
if os.environ.get('SHAPE'):
    for s in os.environ['SHAPE'].split(','):
        a, b = shape(f'{root}/before/{s}/report.json'), shape(f'{root}/after/{s}/report.json')
        print(f'{s}: steps, metric names, gate ids/outcomes and verdict', 'identical' if a == b else 'DIFFERENT')
