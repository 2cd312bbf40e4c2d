// The bias lab: signs in with the admin token (admin-access.js, shared with the dashboard), runs a
// prompt with biases live and ablated through /lab/api/runs, and draws the continuations, the
// per-layer logit-lens KL and the per-head attention heatmaps as SVG.
(function () {
  'use strict';
  const SVG = 'http://www.w3.org/2000/svg';
  const $ = id => document.getElementById(id);

  const { Unauthorized, api } = AdminAccess;

  function el(name, attrs, text) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text != null) e.textContent = text;
    return e;
  }

  // White (low) to indigo (high): one hue, so the maps read in greyscale and for colour-blind eyes.
  function colour(t) {
    const c = Math.max(0, Math.min(1, t));
    const mix = (a, b) => Math.round(a + (b - a) * c);
    return `rgb(${mix(255, 49)},${mix(255, 46)},${mix(255, 129)})`;
  }

  const fmt = v => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3));

  // values[layer][head] as a grid of cells, layers top to bottom, with a legend scale lo..hi.
  function heatmap(target, values, lo, hi, what) {
    const layers = values.length, heads = values[0].length;
    const cell = Math.max(8, Math.min(48, Math.floor(360 / heads))), rowH = Math.max(6, Math.min(28, Math.floor(420 / layers)));
    const left = 34, top = 18, legendH = 34;
    const lw = Math.max(120, Math.min(200, heads * cell));
    const w = left + Math.max(heads * cell, lw) + 8, h = top + layers * rowH + legendH;
    let maxAt = [0, 0];
    for (let l = 0; l < layers; l++) for (let k = 0; k < heads; k++) if (values[l][k] > values[maxAt[0]][maxAt[1]]) maxAt = [l, k];
    const svg = el('svg', { viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: 'img',
      'aria-label': `${what}: ${layers} layers by ${heads} heads, scale ${fmt(lo)} to ${fmt(hi)}; highest ${fmt(values[maxAt[0]][maxAt[1]])} at layer ${maxAt[0]}, head ${maxAt[1]}` });
    svg.append(el('title', {}, what));
    svg.append(el('text', { x: left, y: 12 }, 'head →'));
    for (let l = 0; l < layers; l++) {
      if (l % Math.ceil(layers / 14) === 0) svg.append(el('text', { x: left - 4, y: top + l * rowH + rowH * 0.8, 'text-anchor': 'end' }, String(l)));
      for (let k = 0; k < heads; k++) {
        const v = values[l][k];
        const r = el('rect', { x: left + k * cell, y: top + l * rowH, width: cell - 1, height: rowH - 1,
          fill: colour(hi > lo ? (v - lo) / (hi - lo) : 0), 'data-layer': l, 'data-head': k, 'data-value': v });
        r.append(el('title', {}, `layer ${l}, head ${k}: ${fmt(v)}`));
        svg.append(r);
      }
    }
    // Legend: the colour ramp with its two ends labelled.
    const ly = top + layers * rowH + 8;
    const defs = el('defs');
    const grad = el('linearGradient', { id: target + '-ramp' });
    grad.append(el('stop', { offset: '0', 'stop-color': colour(0) }), el('stop', { offset: '1', 'stop-color': colour(1) }));
    defs.append(grad);
    svg.append(defs);
    svg.append(el('rect', { x: left, y: ly, width: lw, height: 8, fill: `url(#${target}-ramp)`, stroke: '#9ca3af', 'stroke-width': 0.5 }));
    svg.append(el('text', { x: left, y: ly + 22, class: 'legend-lo' }, fmt(lo)));
    svg.append(el('text', { x: left + lw, y: ly + 22, 'text-anchor': 'end', class: 'legend-hi' }, fmt(hi)));
    $(target).replaceChildren(svg);
  }

  function klChart(kl, top1Live, top1Ablated) {
    const layers = kl.length;
    const bar = Math.max(6, Math.min(24, Math.floor(640 / layers))), plotH = 140, left = 44, top = 10;
    const w = left + layers * bar + 8, h = top + plotH + 24;
    const max = Math.max(...kl, 1e-9);
    const svg = el('svg', { viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: 'img',
      'aria-label': `Logit-lens KL per layer, ${layers} layers, largest ${fmt(max)} nats at layer ${kl.indexOf(max)}; final layer ${fmt(kl[layers - 1])} nats` });
    svg.append(el('title', {}, 'Logit-lens KL(live ‖ ablated) per layer, nats'));
    svg.append(el('line', { x1: left, y1: top + plotH, x2: w - 4, y2: top + plotH, stroke: '#9ca3af' }));
    svg.append(el('text', { x: left - 4, y: top + 8, 'text-anchor': 'end' }, fmt(max)));
    svg.append(el('text', { x: left - 4, y: top + plotH, 'text-anchor': 'end' }, '0'));
    for (let l = 0; l < layers; l++) {
      const bh = Math.max(0.5, plotH * kl[l] / max);
      const r = el('rect', { x: left + l * bar, y: top + plotH - bh, width: bar - 2, height: bh, fill: '#4f46e5', 'data-layer': l, 'data-value': kl[l] });
      r.append(el('title', {}, `layer ${l}: KL ${fmt(kl[l])} nats; top-1 live ${JSON.stringify(top1Live[l])}, ablated ${JSON.stringify(top1Ablated[l])}`));
      svg.append(r);
      if (l % Math.ceil(layers / 14) === 0) svg.append(el('text', { x: left + l * bar + bar / 2, y: h - 6, 'text-anchor': 'middle' }, String(l)));
    }
    $('kl-chart').replaceChildren(svg);
  }

  const maxOf = (...maps) => Math.max(...maps.flat(2), 1e-9);

  function render(r) {
    $('results').hidden = false;
    $('live-text').textContent = r.live.text;
    $('ablated-text').textContent = r.ablated.text;
    $('ablation-label').textContent = `(${r.ablation.projections}, layers ${r.ablation.fromLayer}–${r.ablation.toLayer})`;
    $('divergence').textContent = r.firstDivergence < 0
      ? `The two continuations agree on all ${r.live.tokens.length} tokens (prompt: ${r.promptTokens} tokens).`
      : `The continuations part at generated token ${r.firstDivergence} (prompt: ${r.promptTokens} tokens).`;
    klChart(r.logitLensKl, r.logitLensTop1.live, r.logitLensTop1.ablated);
    const hiEntropy = maxOf(r.attentionEntropy.live, r.attentionEntropy.ablated);
    heatmap('entropy-live', r.attentionEntropy.live, 0, hiEntropy, 'Attention entropy, biases live');
    heatmap('entropy-ablated', r.attentionEntropy.ablated, 0, hiEntropy, 'Attention entropy, biases ablated');
    heatmap('sink-live', r.sinkMass.live, 0, 1, 'Attention mass on the first token, biases live');
    heatmap('sink-ablated', r.sinkMass.ablated, 0, 1, 'Attention mass on the first token, biases ablated');
    $('export-json').href = `/lab/api/runs/${r.id}/json`;
    $('export-csv').href = `/lab/api/runs/${r.id}/csv`;
    window.BiasLab.last = r;
  }

  // The export endpoints need the bearer header, which a plain link cannot send.
  async function download(ev) {
    ev.preventDefault();
    const a = ev.currentTarget;
    const res = await fetch(a.getAttribute('href'), { headers: AdminAccess.headers() });
    if (!res.ok) { showError('export failed: HTTP ' + res.status); return; }
    const url = URL.createObjectURL(await res.blob());
    const tmp = document.createElement('a');
    tmp.href = url;
    tmp.download = (res.headers.get('Content-Disposition') || '').match(/filename="?([^";]+)/)?.[1] || 'bias-lab';
    document.body.append(tmp);
    tmp.click();
    tmp.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function showError(message) {
    $('run-error').hidden = !message;
    $('run-error').textContent = message || '';
  }

  function showLogin(message) {
    $('lab').hidden = true;
    $('login').hidden = false;
    $('login-error').hidden = !message;
    $('login-error').textContent = message || '';
  }

  function failed(e) {
    if (e instanceof Unauthorized) {
      AdminAccess.forget();
      showLogin(e.message);
    } else {
      showError(e.message);
    }
  }

  async function start() {
    try {
      const m = await api('GET', '/lab/api/model');
      $('login').hidden = true;
      $('lab').hidden = false;
      $('max-tokens').max = m.maxTokens;
      if (m.ready) {
        $('model-name').textContent = `${m.name}: ${m.layers} layers, ${m.heads} heads`;
        $('demo-badge').hidden = !m.demoWeights;
        for (const id of ['from-layer', 'to-layer']) $(id).max = m.layers - 1;
        if (Number($('to-layer').value) === 0) $('to-layer').value = m.layers - 1;
      } else {
        $('model-name').textContent = 'the model is still loading';
      }
    } catch (e) {
      failed(e);
    }
  }

  async function run(ev) {
    ev.preventDefault();
    const projections = ['q', 'k', 'v'].filter(p => $('proj-' + p).checked).join('');
    showError('');
    $('run').disabled = true;
    $('run-state').textContent = 'running both passes…';
    try {
      render(await api('POST', '/lab/api/runs', {
        prompt: $('prompt').value, projections, fromLayer: Number($('from-layer').value),
        toLayer: Number($('to-layer').value), maxTokens: Number($('max-tokens').value),
      }));
      $('run-state').textContent = 'done';
    } catch (e) {
      $('run-state').textContent = '';
      failed(e);
    } finally {
      $('run').disabled = false;
    }
  }

  // For tests and the curious: the last run's data.
  window.BiasLab = { last: null };

  document.addEventListener('DOMContentLoaded', () => {
    $('lab-form').addEventListener('submit', run);
    $('export-json').addEventListener('click', download);
    $('export-csv').addEventListener('click', download);
    AdminAccess.bind(start, showLogin);
  });
})();
