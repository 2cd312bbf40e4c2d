// The admin dashboard: signs in with the admin token (admin-access.js, shared with the bias lab),
// loads the sample history, then follows /admin/api/events with a one-time ticket.
(function () {
  'use strict';
  const KEEP_SECONDS = 600;
  const $ = id => document.getElementById(id);

  const { Unauthorized, api } = AdminAccess;

  // ---- formatting ----
  const fmtBytes = b => {
    if (b == null) return '–';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
    return (i ? b.toFixed(1) : b) + ' ' + u[i];
  };
  const fmtCount = n => n >= 1e9 ? (n / 1e9).toFixed(2) + ' B' : n >= 1e6 ? (n / 1e6).toFixed(1) + ' M' : String(n);
  const fmtDuration = s => {
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + m + 'm ' + (s % 60) + 's';
  };

  function fillProps(dl, rows) {
    dl.replaceChildren();
    for (const [k, v] of rows) {
      if (v === undefined) continue;
      const dt = document.createElement('dt'); dt.textContent = k;
      const dd = document.createElement('dd'); dd.textContent = v == null ? '–' : v;
      dd.dataset.key = k;
      dl.append(dt, dd);
    }
  }

  // ---- charts ----
  const series = {
    t: [], running: [], waiting: [], decode: [], prefill: [], ttft50: [], ttft95: [], itl50: [], itl95: [],
    kvUsed: [], kvBlocks: [], errors: [], preemptions: [],
  };
  const charts = {};

  // scales[i] names the y scale of series i ('y' unless given); a second scale gets its own axis
  // on the right, so a series of a different magnitude does not flatten the others.
  function chart(id, labels, colors, keys, scales) {
    const el = $(id);
    const scaleOf = i => (scales && scales[i]) || 'y';
    const zeroBased = (u, min, max) => [0, Math.max(1, max * 1.1)];
    const opts = {
      width: Math.max(280, el.clientWidth || 400), height: 180,
      series: [{}, ...labels.map((label, i) => ({ label, stroke: colors[i], width: 1.5, spanGaps: false, scale: scaleOf(i) }))],
      axes: [{}, { size: 50 }],
      scales: { y: { range: zeroBased } },
    };
    for (const [i, scale] of (scales || []).entries()) {
      if (scale === 'y' || opts.scales[scale]) continue;
      opts.scales[scale] = { range: zeroBased };
      opts.axes.push({ scale, side: 1, size: 60, stroke: colors[i], grid: { show: false } });
    }
    charts[id] = { plot: new uPlot(opts, [series.t, ...keys.map(k => series[k])], el), keys };
    fitWidth(el, charts[id].plot, 180);
  }

  // Charts follow their card's width (the grid decides it; the canvas never does).
  function fitWidth(el, plot, height) {
    new ResizeObserver(() => {
      const w = Math.floor(el.clientWidth);
      if (w > 0 && w !== plot.width) plot.setSize({ width: w, height });
    }).observe(el);
  }

  function redraw() {
    for (const c of Object.values(charts)) c.plot.setData([series.t, ...c.keys.map(k => series[k])]);
  }

  function push(s) {
    const last = series.t[series.t.length - 1];
    if (last !== undefined && s.t <= last) return;
    series.t.push(s.t);
    series.running.push(s.running); series.waiting.push(s.waiting);
    series.decode.push(s.decodeTokensPerSecond); series.prefill.push(s.prefillTokensPerSecond);
    series.ttft50.push(s.ttftP50Ms); series.ttft95.push(s.ttftP95Ms);
    series.itl50.push(s.itlP50Ms); series.itl95.push(s.itlP95Ms);
    series.kvUsed.push(s.kvUsed * 100); series.kvBlocks.push(s.kvBlocks * 100); series.preemptions.push(s.preemptions);
    series.errors.push(s.errors);
    while (series.t.length && series.t[0] < s.t - KEEP_SECONDS) for (const k in series) series[k].shift();
    $('latest').textContent = '· now ' + s.running + ' running, ' + s.waiting + ' waiting, '
      + s.decodeTokensPerSecond.toFixed(1) + ' decode tok/s';
  }

  let biasPlot = null;
  function biasChart(norms) {
    $('bias-none').hidden = !!norms;
    if (!norms) return;
    if (biasPlot) return;
    const layers = norms.q.map((_, i) => i);
    const el = $('chart-bias');
    biasPlot = new uPlot({
      width: Math.max(260, el.clientWidth || 300), height: 130,
      series: [{ label: 'layer' }, { label: 'q', stroke: '#4f46e5' }, { label: 'k', stroke: '#dc2626' }, { label: 'v', stroke: '#15803d' }],
      scales: { x: { time: false } }, axes: [{ incrs: [1, 2, 5, 10, 20], values: (u, v) => v.map(String) }, { size: 50 }],
    }, [layers, norms.q, norms.k, norms.v], el);
    fitWidth(el, biasPlot, 130);
  }

  // ---- cards ----
  function render(o) {
    const h = o.health;
    const ok = h.readiness === 'ACCEPTING_TRAFFIC' && h.liveness === 'CORRECT';
    const badge = $('health-badge');
    badge.textContent = ok ? 'healthy' : h.liveness !== 'CORRECT' ? 'unhealthy' : 'not ready';
    badge.className = 'badge ' + (ok ? 'ok' : 'bad');
    const state = (el, good, text) => { el.textContent = text; el.className = good ? 'state-ok' : 'state-bad'; };
    state($('h-readiness'), h.readiness === 'ACCEPTING_TRAFFIC', h.readiness + ' · ' + h.readinessReason);
    state($('h-liveness'), h.liveness === 'CORRECT', h.liveness + ' · ' + h.livenessReason);
    $('h-heartbeat').textContent = 'last beat ' + h.heartbeatMillisAgo + ' ms ago'
      + (h.stepRunningMillis != null ? ' · step running ' + h.stepRunningMillis + ' ms' : '');
    $('h-uptime').textContent = fmtDuration(h.uptimeSeconds);
    const t = o.totals;
    $('h-totals').textContent = t.completed + ' completed · ' + t.cancelled + ' cancelled · ' + t.failed + ' failed · '
      + t.rejectedBusy + ' refused busy · ' + t.preemptions + ' preempted · ' + fmtCount(t.tokensGenerated) + ' tokens';
    $('h-totals').dataset.completed = t.completed;
    const p = o.presets;
    if (p) state($('h-presets'), !p.problem, p.problem ? p.problem : p.custom + ' custom · presets.json OK');

    const m = o.model;
    $('model-pending').hidden = !!m;
    $('demo-badge').hidden = !(m ? m.demo : o.load.demo);
    if (m) {
      fillProps($('model-kv'), [
        ['Name', m.name], ['Source', m.sourceDirectory], ['Parameters', fmtCount(m.parameters)],
        ['Layers', m.layers], ['Hidden / MLP', m.hiddenSize + ' / ' + m.intermediateSize],
        ['Heads / KV heads', m.heads + ' / ' + m.kvHeads], ['head_dim', m.headDim], ['Vocabulary', m.vocabSize],
        ['Context', m.contextLength + ' (served ' + m.servedContextLength + ')'], ['RoPE theta', m.ropeTheta],
        ['RoPE scaling', m.ropeScaling || 'none'], ['dtype', m.dtype],
        ['Embeddings', m.tiedEmbeddings ? 'tied' : 'untied'],
        ['q/k/v bias', m.qkvBias == null ? 'checking…' : m.qkvBias ? 'present' : 'absent'],
      ]);
      biasChart(m.biasNorms);
      if (m.qkvBias === false) $('bias-none').textContent = 'no q/k/v biases in this checkpoint';
    }

    const e = o.engine;
    const k = o.kernels;
    fillProps($('engine-kv'), e ? [
      ['Engine', e.kind], ['Device', e.device],
      ['Compute capability', e.computeCapability || (e.kind === 'cpu' ? 'n/a' : null)],
      ['Driver', e.driverVersion || (e.kind === 'cpu' ? 'n/a' : null)],
      ['Weights', fmtBytes(e.weightBytes)], ['KV cache', fmtBytes(e.kvCacheBytes)], ['Workspace', fmtBytes(e.workspaceBytes)],
      ['Device memory', e.deviceTotalBytes ? fmtBytes(e.weightBytes + e.kvCacheBytes + e.workspaceBytes) + ' of ' + fmtBytes(e.deviceTotalBytes) : 'n/a (host memory)'],
      // One row per GPU (the metrics' gpu label): memory in use on it once the model was loaded.
      ...(o.gpus || []).map(g => ['GPU ' + g.gpu + ' memory', g.name + ': ' + fmtBytes(g.usedBytes) + ' used of ' + fmtBytes(g.totalBytes)]),
      ['KV capacity', e.maxSequences + ' sequences of up to ' + e.maxTokensPerSequence + ' tokens, sharing '
        + fmtCount(e.capacityTokens) + ' tokens'],
      ['KV blocks', e.usedBlocks + ' / ' + e.totalBlocks + ' used (' + e.blockSize + ' tokens each)'],
      ['KV in use', e.usedTokens + ' tokens held, ' + e.openSequences + ' open'],
      ['Preemptions', String(e.preemptions)],
      ['Prefix cache', e.prefixCache.queries > 0
        ? (e.prefixCache.hitRate * 100).toFixed(1) + '% hit rate: ' + fmtCount(e.prefixCache.hits) + ' of '
          + fmtCount(e.prefixCache.queries) + ' prompt tokens found cached'
        : 'no prompt looked up yet'],
      // Kernels are GPU code: the CPU engine has none to report.
      e.kind === 'cpu' ? null : ['Kernels', k.available ? k.sources.join(', ') + ' (' + k.detail + ')' : 'none: ' + k.detail],
    ].filter(Boolean) : [['Engine', 'not loaded'], ['Kernels', k.available ? k.sources.join(', ') : 'none: ' + k.detail]]);
    const bar = $('membar');
    bar.replaceChildren();
    if (e) {
      const total = Math.max(e.deviceTotalBytes, e.weightBytes + e.kvCacheBytes + e.workspaceBytes, 1);
      for (const [cls, v] of [['seg-weights', e.weightBytes], ['seg-kv', e.kvCacheBytes], ['seg-ws', e.workspaceBytes]]) {
        const s = document.createElement('span');
        s.className = cls;
        s.style.width = (100 * v / total) + '%';
        s.title = fmtBytes(v);
        bar.appendChild(s);
      }
    }

    const ol = $('timeline');
    ol.replaceChildren();
    for (const st of o.load.stages) {
      const li = document.createElement('li');
      li.dataset.stage = st.stage;
      li.textContent = st.description;
      const d = document.createElement('span');
      d.className = 'dur';
      d.textContent = st.durationMillis == null ? 'running…' : (st.durationMillis / 1000).toFixed(2) + ' s';
      li.appendChild(d);
      ol.appendChild(li);
    }
    if (o.load.state === 'FAILED' && ol.lastChild) ol.lastChild.classList.add('failed');
    $('load-error').hidden = !o.load.error;
    $('load-error').textContent = o.load.error ? 'Loading failed: ' + o.load.error : '';
  }

  // ---- session ----
  let source = null;

  function showLogin(message) {
    if (source) { source.close(); source = null; }
    $('dashboard').hidden = true;
    $('login').hidden = false;
    $('login-error').hidden = !message;
    $('login-error').textContent = message || '';
  }

  async function connect() {
    const { ticket } = await api('POST', '/admin/api/ticket');
    source = new EventSource('/admin/api/events?ticket=' + encodeURIComponent(ticket));
    source.addEventListener('open', () => { $('stream-state').textContent = 'live'; });
    source.addEventListener('tick', ev => {
      const d = JSON.parse(ev.data);
      if (d.overview) render(d.overview);
      if (d.sample) { push(d.sample); redraw(); }
    });
    source.addEventListener('error', () => {
      // Tickets are single-use, so EventSource's own retry would be refused: reconnect with a new one.
      $('stream-state').textContent = 'reconnecting…';
      source.close();
      source = null;
      setTimeout(() => connect().catch(failed), 2000);
    });
  }

  function failed(e) {
    if (e instanceof Unauthorized) {
      AdminAccess.forget();
      showLogin(e.message);
    } else {
      $('stream-state').textContent = 'offline: ' + e.message;
      setTimeout(() => connect().catch(failed), 5000);
    }
  }

  async function start() {
    try {
      const overview = await api('GET', '/admin/api/overview');
      $('login').hidden = true;
      $('dashboard').hidden = false;
      if (!Object.keys(charts).length) {
        chart('chart-requests', ['running', 'waiting'], ['#4f46e5', '#f59e0b'], ['running', 'waiting']);
        // Prefill runs at many times the decode rate: on a shared axis its spikes flatten the decode line.
        chart('chart-tokens', ['decode tok/s (left)', 'prefill tok/s (right)'], ['#15803d', '#0369a1'], ['decode', 'prefill'], ['y', 'prefill']);
        chart('chart-ttft', ['p50', 'p95'], ['#4f46e5', '#dc2626'], ['ttft50', 'ttft95']);
        chart('chart-itl', ['p50', 'p95'], ['#4f46e5', '#dc2626'], ['itl50', 'itl95']);
        chart('chart-kv', ['tokens %', 'blocks %'], ['#0ea5e9', '#4f46e5'], ['kvUsed', 'kvBlocks']);
        chart('chart-errors', ['errors', 'preemptions'], ['#dc2626', '#f59e0b'], ['errors', 'preemptions']);
      }
      render(overview);
      const history = await api('GET', '/admin/api/history');
      for (const s of history.samples) push(s);
      redraw();
      await connect();
    } catch (e) {
      failed(e);
    }
  }

  // For tests and the curious: the newest values behind the charts.
  window.AdminDashboard = { series, charts };

  document.addEventListener('DOMContentLoaded', () => {
    AdminAccess.bind(start, showLogin);
  });
})();
