"""Summarizes kernel_trace.cpp's CSV: for every CUDA graph replayed at least MIN_REPLAYS times, where
one replay's time goes, kernel by kernel.

  python3 summarize.py trace.csv [MIN_REPLAYS]

A kernel's cost is how far it moves the replay's end: its end minus the latest end before it (kernels
of a decode graph run one after another, a dependent launch overlapping the one before), so the costs
of a replay add up to its length. Per kernel name: launches a replay, the mean duration and the mean
cost; then one median replay laid out kernel by kernel (first 40 launches), offsets from its start."""
import collections
import statistics
import sys


def costs(replay):
    """Each kernel of a replay with its cost: its end minus the latest end before it (0 if none later)."""
    latest = replay[0][0]
    for record in replay:
        yield record, max(0, record[1] - latest)
        latest = max(latest, record[1])


def main(path, min_replays=50):
    graphs = collections.defaultdict(list)
    with open(path) as f:
        next(f)
        for line in f:
            start, end, graph, node, _stream, grid, block, _regs, name = line.rstrip("\n").split(",", 8)
            if graph != "0":
                graphs[graph].append((int(start), int(end), int(node), int(grid), int(block), name))
    for graph, records in graphs.items():
        records.sort()
        first_node = records[0][2]
        replays, current = [], []
        for r in records:
            if r[2] == first_node and current:
                replays.append(current)
                current = []
            current.append(r)
        replays.append(current)
        size = statistics.mode(len(r) for r in replays)
        replays = [r for r in replays if len(r) == size]
        if len(replays) < min_replays:
            continue
        lengths = sorted(r[-1][1] - r[0][0] for r in replays)
        print(f"graph {graph}: {len(replays)} replays of {size} kernels; replay length median "
              f"{lengths[len(lengths) // 2] / 1e3:.1f} us, min {lengths[0] / 1e3:.1f} us")
        per_name = collections.defaultdict(lambda: [0, 0.0, 0.0])
        for rep in replays:
            for (start, end, _node, _grid, _block, name), cost in costs(rep):
                s = per_name[name]
                s[0] += 1
                s[1] += end - start
                s[2] += cost
        n = len(replays)
        print(f"  {'kernel':44s} {'a replay':>8s} {'duration':>11s} {'cost':>11s} {'cost/launch':>11s}")
        for name, (count, dur, cost) in sorted(per_name.items(), key=lambda kv: -kv[1][2]):
            print(f"  {name[:44]:44s} {count / n:8.1f} {dur / n / 1e3:9.1f}us {cost / n / 1e3:9.1f}us "
                  f"{cost / count / 1e3:9.2f}us")
        median = sorted(replays, key=lambda r: r[-1][1] - r[0][0])[n // 2]
        t0 = median[0][0]
        print("  one replay (the median), offsets from its start in us:")
        for (start, end, _node, grid, block, name), cost in list(costs(median))[:40]:
            print(f"    {name[:40]:40s} grid {grid:6d} x {block:4d}  start {(start - t0) / 1e3:8.2f}"
                  f"  end {(end - t0) / 1e3:8.2f}  took {(end - start) / 1e3:7.2f}  cost {cost / 1e3:7.2f}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 50)
