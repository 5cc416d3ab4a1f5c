// The lifeboat dashboard (docs/design/daemon.md, "HTTP API").
//
// Plain JavaScript, no framework, nothing fetched but the daemon's own API. Every piece of
// data reaches the page as a text node or an attribute value, never as HTML: the views are
// built with createElement / createTextNode and patched into the page by `morph`, which keeps
// unchanged nodes (a button being clicked survives a refresh).
'use strict';

(function () {
  const TOKEN_KEY = 'lifeboat.token';
  const API = '/api/v1';
  const FAST_MS = 2000; // status, jobs
  const MEDIUM_MS = 10000; // drills, journal, mode
  const SLOW_MS = 30000; // snapshots per source (timelines)
  const ROLE_RANK = { read: 1, operator: 2, admin: 3 };
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const state = {
    token: null,
    gen: 0, // bumped at sign-out: stale loops and answers are dropped
    timers: [],
    status: null,
    jobs: null,
    drills: null,
    journal: null,
    journalError: null,
    modes: null,
    snapshots: new Map(), // source -> { list, error, at, newest }
    learnedRole: null, // set when the daemon answered 403 and status has no role
    pending: new Set(), // "backup:NAME", "drill:NAME", "cancel:ID" while a request is in flight
    snapBusy: false,
    mediumBusy: false,
    snapAgain: false,
    lastOk: null,
    connError: null,
    noticeTimer: null,
  };

  // ---------------------------------------------------------------- DOM helpers

  const $ = (id) => document.getElementById(id);

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false || c === '') continue;
      el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function setAttrs(el, attrs) {
    if (!attrs) return el;
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') {
        const cls = Array.isArray(v) ? v.filter(Boolean).join(' ') : String(v);
        if (cls) el.setAttribute('class', cls);
      } else {
        el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    return el;
  }

  // An HTML element; children are nodes or plain values (rendered as text).
  function h(tag, attrs, ...children) {
    return append(setAttrs(document.createElement(tag), attrs), children);
  }

  // An SVG element.
  function s(tag, attrs, ...children) {
    return append(setAttrs(document.createElementNS(SVG_NS, tag), attrs), children);
  }

  function text(el, value) {
    if (el.textContent !== value) el.textContent = value;
  }

  // Makes `from` look like `to` (a freshly built node), reusing nodes where it can. Children
  // with a `data-key` attribute are matched by key, the others by position.
  function morph(from, to) {
    if (from.nodeType !== to.nodeType || from.nodeName !== to.nodeName) {
      from.replaceWith(to);
      return to;
    }
    if (from.nodeType !== Node.ELEMENT_NODE) {
      if (from.nodeValue !== to.nodeValue) from.nodeValue = to.nodeValue;
      return from;
    }
    for (const a of Array.from(from.attributes)) {
      if (!to.hasAttribute(a.name)) from.removeAttribute(a.name);
    }
    for (const a of Array.from(to.attributes)) {
      if (from.getAttribute(a.name) !== a.value) from.setAttribute(a.name, a.value);
    }
    morphChildren(from, to);
    return from;
  }

  function keyOf(n) {
    return n.nodeType === Node.ELEMENT_NODE ? n.getAttribute('data-key') : null;
  }

  function morphChildren(parent, to) {
    const next = Array.from(to.childNodes);
    const byKey = new Map();
    const unkeyed = [];
    for (const o of Array.from(parent.childNodes)) {
      const k = keyOf(o);
      if (k !== null && !byKey.has(k)) byKey.set(k, o);
      else unkeyed.push(o);
    }
    let u = 0;
    next.forEach((n, idx) => {
      const k = keyOf(n);
      let match;
      if (k !== null) {
        match = byKey.get(k);
        byKey.delete(k);
      } else {
        while (u < unkeyed.length && keyOf(unkeyed[u]) !== null) u++;
        match = unkeyed[u++];
      }
      const node = match ? morph(match, n) : n;
      const cur = parent.childNodes[idx];
      if (cur !== node) parent.insertBefore(node, cur || null);
    });
    while (parent.childNodes.length > next.length) parent.lastChild.remove();
  }

  // Replaces the content of element `id` with `children`, patching in place.
  function render(id, ...children) {
    const root = $(id);
    if (!root) return;
    morphChildren(root, append(root.cloneNode(false), children));
  }

  // ---------------------------------------------------------------- formatting

  function num(v) {
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  }

  function fmtBytes(n) {
    n = num(n);
    if (n === null) return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let v = n;
    let i = 0;
    while (Math.abs(v) >= 1024 && i + 1 < units.length) {
      v /= 1024;
      i++;
    }
    if (i === 0) return `${n} B`;
    return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
  }

  function fmtCount(n) {
    n = num(n);
    return n === null ? '—' : n.toLocaleString('en-US');
  }

  // Seconds as "850 ms", "4.2 s", "12 s", "4 min 3 s", "2 h 5 min", "3 d 4 h".
  function fmtDuration(sec) {
    sec = num(sec);
    if (sec === null) return '—';
    const neg = sec < 0;
    let v = Math.abs(sec);
    let out;
    if (v < 1) out = `${Math.round(v * 1000)} ms`;
    else if (v < 10) out = `${v.toFixed(1)} s`;
    else if (v < 60) out = `${Math.round(v)} s`;
    else if (v < 3600) {
      const total = Math.round(v);
      const m = Math.floor(total / 60);
      const r = total % 60;
      out = r ? `${m} min ${r} s` : `${m} min`;
    } else if (v < 86400) {
      const total = Math.round(v / 60);
      const hh = Math.floor(total / 60);
      const m = total % 60;
      out = m ? `${hh} h ${m} min` : `${hh} h`;
    } else {
      const total = Math.round(v / 3600);
      const d = Math.floor(total / 24);
      const hh = total % 24;
      out = hh ? `${d} d ${hh} h` : `${d} d`;
    }
    return neg ? `-${out}` : out;
  }

  function parseTime(t) {
    if (!t || typeof t !== 'string') return null;
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? null : ms;
  }

  function pad(n) {
    return String(n).padStart(2, '0');
  }

  // Local time, "2024-05-01 14:03:12".
  function fmtAbs(t) {
    const ms = parseTime(t);
    if (ms === null) return t ? String(t) : '—';
    const d = new Date(ms);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function fmtAbsTitle(t) {
    const ms = parseTime(t);
    if (ms === null) return t ? String(t) : '';
    return `${fmtAbs(t)} (local) — ${new Date(ms).toISOString().replace('.000Z', 'Z')}`;
  }

  function fmtRel(t) {
    const ms = parseTime(t);
    if (ms === null) return '—';
    const diff = (Date.now() - ms) / 1000;
    if (Math.abs(diff) < 5) return 'just now';
    const d = fmtDuration(Math.round(Math.abs(diff)));
    return diff >= 0 ? `${d} ago` : `in ${d}`;
  }

  // A <time> element: relative text, absolute time as tooltip.
  function timeEl(t, cls) {
    if (!parseTime(t)) return h('span', { class: ['muted', cls] }, t ? String(t) : '—');
    return h('time', { datetime: t, title: fmtAbsTitle(t), class: cls }, fmtRel(t));
  }

  function shortId(id) {
    return typeof id === 'string' && id ? id.replace(/[….]+$/, '').slice(0, 8) : '';
  }

  function str(v) {
    if (v === null || v === undefined) return '';
    return typeof v === 'string' ? v : String(v);
  }

  function list(v) {
    return Array.isArray(v) ? v : [];
  }

  function pill(label, cls, title) {
    return h('span', { class: ['pill', cls], title }, label);
  }

  function empty(msg) {
    return h('p', { class: 'empty' }, msg);
  }

  // ---------------------------------------------------------------- roles

  function role() {
    const r = state.status && typeof state.status.role === 'string' ? state.status.role : null;
    return r || state.learnedRole;
  }

  // True when the signed-in token may do what needs `needed`. Without a role from the daemon
  // the buttons stay (the daemon itself refuses with 403, and we learn from that).
  function allows(needed) {
    const r = role();
    if (!r) return true;
    return (ROLE_RANK[r] || 0) >= (ROLE_RANK[needed] || 99);
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, body) {
      const msg = body && typeof body.error === 'string' ? body.error : `HTTP ${status}`;
      super(msg);
      this.status = status;
      this.hint = body && typeof body.hint === 'string' ? body.hint : null;
      this.kind = body && typeof body.kind === 'string' ? body.kind : null;
    }
  }

  async function request(path, opts, token) {
    const headers = { Accept: 'application/json' };
    headers.Authorization = `Bearer ${token === undefined ? state.token : token}`;
    const init = { method: (opts && opts.method) || 'GET', headers, cache: 'no-store' };
    if (opts && opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    const res = await fetch(API + path, init);
    const raw = await res.text();
    let body = null;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch (_) {
        body = null;
      }
    }
    if (!res.ok) throw new ApiError(res.status, body);
    return body;
  }

  // A request made by the running dashboard: a 401 signs out.
  async function api(path, opts) {
    const gen = state.gen;
    try {
      const body = await request(path, opts);
      if (gen !== state.gen) throw new Error('stale');
      return body;
    } catch (e) {
      if (gen === state.gen && e instanceof ApiError && e.status === 401) {
        signOut('Your token was refused (it may have been removed). Sign in again.');
      }
      throw e;
    }
  }

  function errText(e) {
    if (e instanceof ApiError) return e.hint ? `${e.message} — ${e.hint}` : e.message;
    if (e instanceof TypeError) return `cannot reach the daemon (${e.message})`;
    return e && e.message ? e.message : String(e);
  }

  // ---------------------------------------------------------------- sign in / out

  function showLogin(message) {
    $('dashboard-view').hidden = true;
    $('login-view').hidden = false;
    const err = $('login-error');
    if (message) {
      err.textContent = message;
      err.hidden = false;
    } else {
      err.textContent = '';
      err.hidden = true;
    }
    document.title = 'lifeboat — sign in';
    $('token').focus();
  }

  async function onLogin(ev) {
    ev.preventDefault();
    const input = $('token');
    const btn = $('login');
    const err = $('login-error');
    const token = input.value.trim();
    if (!token) {
      err.textContent = 'enter a token';
      err.hidden = false;
      return;
    }
    btn.disabled = true;
    err.hidden = true;
    try {
      const status = await request('/status', undefined, token);
      sessionStorage.setItem(TOKEN_KEY, token);
      input.value = '';
      startDashboard(token, status);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) err.textContent = 'invalid token';
      else if (e instanceof ApiError && e.status === 403) err.textContent = 'this token may not read the status';
      else err.textContent = errText(e);
      err.hidden = false;
      input.select();
    } finally {
      btn.disabled = false;
    }
  }

  function stopLoops() {
    state.gen++;
    for (const t of state.timers) clearTimeout(t);
    state.timers = [];
  }

  function signOut(message) {
    stopLoops();
    sessionStorage.removeItem(TOKEN_KEY);
    Object.assign(state, {
      token: null, status: null, jobs: null, drills: null, journal: null, journalError: null,
      modes: null, learnedRole: null, lastOk: null, connError: null,
    });
    state.snapshots = new Map();
    state.pending = new Set();
    for (const id of ['sources-body', 'running', 'failures', 'timelines', 'drills',
      'repositories', 'schedules', 'jobs-body', 'journal-body', 'daemon-info']) render(id);
    showLogin(message);
  }

  function startDashboard(token, status) {
    stopLoops();
    state.token = token;
    state.status = status || null;
    state.lastOk = status ? Date.now() : null;
    $('login-view').hidden = true;
    $('dashboard-view').hidden = false;
    document.title = 'lifeboat';
    renderAll();
    const gen = state.gen;
    loop(gen, refreshFast, FAST_MS);
    loop(gen, refreshMedium, MEDIUM_MS);
    loop(gen, refreshSnapshots, SLOW_MS);
  }

  // Runs `fn` now and then every `ms` after it finished (no overlapping refreshes).
  function loop(gen, fn, ms) {
    const tick = async () => {
      if (gen !== state.gen) return;
      try {
        await fn();
      } catch (_) {
        // shown by the refresh itself
      }
      if (gen !== state.gen) return;
      state.timers.push(setTimeout(tick, ms));
    };
    tick();
  }

  // ---------------------------------------------------------------- refreshes

  async function refreshFast() {
    const [st, jobs] = await Promise.allSettled([api('/status'), api('/jobs?limit=50')]);
    if (st.status === 'fulfilled') {
      const prev = state.status;
      state.status = st.value || {};
      state.lastOk = Date.now();
      state.connError = null;
      const missing = sourceNames().some((n) => !state.snapshots.has(n));
      if (missing || snapshotsChanged(prev, state.status)) refreshSnapshots();
    } else if (st.reason && st.reason.message !== 'stale') {
      state.connError = errText(st.reason);
    }
    if (jobs.status === 'fulfilled') {
      const sig = (js) => js.map((j) => `${str(j && j.id)}:${str(j && j.state)}`).join(',');
      const changed = state.jobs !== null && sig(state.jobs) !== sig(list(jobs.value));
      state.jobs = list(jobs.value);
      // A job started or ended: its journal record and drill report are new.
      if (changed) refreshMediumNow();
    }
    renderAll();
  }

  function refreshMediumNow() {
    if (state.mediumBusy) return;
    state.mediumBusy = true;
    refreshMedium().catch(() => {}).finally(() => { state.mediumBusy = false; });
  }

  async function refreshMedium() {
    const wantMode = state.status && state.status.mode && state.status.mode !== 'normal';
    const [drills, journal, mode] = await Promise.allSettled([
      api('/drills?limit=20'),
      api('/journal?limit=20'),
      wantMode ? api('/mode') : Promise.resolve(null),
    ]);
    if (drills.status === 'fulfilled') state.drills = list(drills.value);
    if (journal.status === 'fulfilled') {
      state.journal = list(journal.value);
      state.journalError = null;
    } else if (journal.reason && journal.reason.message !== 'stale') {
      state.journalError = errText(journal.reason);
    }
    state.modes = mode.status === 'fulfilled' ? mode.value : null;
    renderDrills();
    renderJournal();
    renderBanners();
  }

  function sourceNames() {
    return list(state.status && state.status.sources).map((x) => str(x && x.name)).filter(Boolean);
  }

  // Fetches every source's snapshots; a call while one runs makes it run once more after.
  async function refreshSnapshots() {
    if (state.snapBusy) {
      state.snapAgain = true;
      return;
    }
    state.snapBusy = true;
    try {
      do {
        state.snapAgain = false;
        await fetchSnapshots();
      } while (state.snapAgain && state.token);
    } finally {
      state.snapBusy = false;
    }
  }

  async function fetchSnapshots() {
    const names = sourceNames();
    for (const name of Array.from(state.snapshots.keys())) {
      if (!names.includes(name)) state.snapshots.delete(name);
    }
    await Promise.allSettled(names.map(async (name) => {
      const entry = state.snapshots.get(name) || { list: null, error: null };
      try {
        const snaps = await api(`/snapshots?source=${encodeURIComponent(name)}`);
        entry.list = list(snaps);
        entry.error = null;
      } catch (e) {
        if (e.message === 'stale') return;
        entry.error = errText(e);
      }
      entry.at = Date.now();
      state.snapshots.set(name, entry);
    }));
    renderTimelines();
  }

  // True when a source's newest backup differs from the last status (refresh its timeline).
  function snapshotsChanged(prev, next) {
    const key = (st) => list(st && st.sources)
      .map((x) => `${str(x && x.name)}=${str(x && x.last_backup && x.last_backup.snapshot)}`).join(',');
    return prev !== null && key(prev) !== key(next);
  }

  // ---------------------------------------------------------------- actions

  function notify(message, kind) {
    const el = $('notice');
    el.textContent = message;
    el.className = `notice notice-${kind || 'info'}`;
    el.hidden = false;
    clearTimeout(state.noticeTimer);
    state.noticeTimer = setTimeout(() => { el.hidden = true; }, kind === 'error' ? 12000 : 6000);
  }

  async function act(key, fn, okMessage) {
    if (state.pending.has(key)) return;
    state.pending.add(key);
    renderAll();
    try {
      const res = await fn();
      notify(okMessage(res || {}), 'ok');
    } catch (e) {
      if (e.message === 'stale') return;
      if (e instanceof ApiError && e.status === 403 && !(state.status && state.status.role)) {
        state.learnedRole = 'read';
      }
      notify(errText(e), 'error');
    } finally {
      state.pending.delete(key);
    }
    try {
      await refreshFast();
    } catch (_) {
      renderAll();
    }
  }

  function backupNow(name) {
    act(`backup:${name}`,
      () => api('/backups', { method: 'POST', body: { source: name } }),
      (r) => `Backup of ${name} queued${r.job !== undefined ? ` as job #${r.job}` : ''}.`);
  }

  function runDrill(name) {
    act(`drill:${name}`,
      () => api('/drills', { method: 'POST', body: { drill: name } }),
      (r) => `Drill ${name} started${r.job !== undefined ? ` as job #${r.job}` : ''}.`);
  }

  function cancelJob(id) {
    act(`cancel:${id}`,
      () => api(`/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' }),
      () => `Cancellation of job #${id} requested.`);
  }

  function onClick(ev) {
    const btn = ev.target.closest('button');
    if (!btn || btn.disabled) return;
    if (btn.classList.contains('backup-now')) backupNow(btn.getAttribute('data-source'));
    else if (btn.classList.contains('run-drill')) runDrill(btn.getAttribute('data-drill'));
    else if (btn.classList.contains('cancel-job')) cancelJob(btn.getAttribute('data-job-id'));
  }

  // ---------------------------------------------------------------- views

  function renderAll() {
    if (!state.token) return;
    renderHeader();
    renderBanners();
    renderSources();
    renderRunning();
    renderFailures();
    renderRepositories();
    renderSchedules();
    renderJobs();
    renderDrills();
    renderTimelines();
    renderJournal();
  }

  function renderHeader() {
    const st = state.status || {};
    const bits = [];
    if (st.version) bits.push(h('span', null, `v${st.version}`));
    if (st.pid !== undefined && st.pid !== null) bits.push(h('span', null, `pid ${st.pid}`));
    if (st.started_at) bits.push(h('span', null, 'up since ', timeEl(st.started_at)));
    if (st.token) bits.push(h('span', null, 'token ', h('strong', null, str(st.token))));
    render('daemon-info', bits);

    const r = role();
    const badge = $('role');
    if (r) {
      text(badge, r);
      badge.className = `role-badge role-${r}`;
      badge.title = st.token ? `Signed in with token ${st.token} (role ${r})` : `This token's role: ${r}`;
      badge.hidden = false;
    } else {
      badge.hidden = true;
    }

    const conn = $('conn');
    if (state.connError) {
      text(conn, 'offline');
      conn.className = 'conn conn-bad';
    } else if (state.lastOk) {
      text(conn, 'live');
      conn.className = 'conn conn-ok';
      conn.title = `Last update ${fmtAbs(new Date(state.lastOk).toISOString())}`;
    } else {
      text(conn, 'connecting…');
      conn.className = 'conn';
    }
  }

  const MODE_TEXT = {
    degraded: 'Destroying operations (forget, prune, key removal) are refused; backups and restores still run.',
    'read-only': 'Nothing new is written: backups and drills are refused; restores still run.',
  };

  function renderBanners() {
    const st = state.status || {};

    const cb = $('conn-banner');
    if (state.connError) {
      const since = state.lastOk ? ` Last successful update ${fmtRel(new Date(state.lastOk).toISOString())}.` : '';
      render('conn-banner', h('strong', null, 'Daemon unreachable. '), `${state.connError}.${since} Retrying…`);
      cb.hidden = false;
    } else {
      cb.hidden = true;
    }

    const crash = $('crash-banner');
    if (st.last_shutdown === 'crash') {
      render('crash-banner',
        h('strong', null, 'The daemon did not shut down cleanly. '),
        'The previous run crashed',
        st.last_shutdown_at ? [' at ', h('span', { title: fmtAbsTitle(st.last_shutdown_at) }, fmtAbs(st.last_shutdown_at)),
          ' (', fmtRel(st.last_shutdown_at), ')'] : '',
        '. Jobs that were running were marked interrupted and their stale locks removed; check the job history.');
      crash.hidden = false;
    } else {
      crash.hidden = true;
    }

    const mb = $('mode-banner');
    const mode = typeof st.mode === 'string' ? st.mode : 'normal';
    if (mode !== 'normal') {
      const repos = list(st.repositories).filter((r) => r && r.mode && r.mode !== 'normal')
        .map((r) => `${str(r.name)}: ${str(r.mode)}`);
      // GET /mode: [{repository, mode, since}] (a reason when the daemon gives one).
      const reasons = list(Array.isArray(state.modes) ? state.modes : state.modes ? [state.modes] : [])
        .filter((m) => m && m.mode !== 'normal' && (m.reason || m.since))
        .map((m) => [m.repository ? `${str(m.repository)}: ` : '', m.reason ? str(m.reason) : str(m.mode),
          m.since ? ` since ${fmtAbs(str(m.since))}` : ''].join(''));
      render('mode-banner',
        h('strong', null, `Mode: ${mode}. `),
        MODE_TEXT[mode] || 'Some operations are refused in this mode.',
        repos.length ? ` (${repos.join(', ')})` : '',
        reasons.length ? h('span', { class: 'banner-detail' }, reasons.join('; ')) : '');
      mb.className = `banner ${mode === 'read-only' ? 'banner-error' : 'banner-warn'}`;
      mb.hidden = false;
    } else {
      mb.hidden = true;
    }
  }

  const RPO_LABEL = { ok: 'ok', warn: 'near target', exceeded: 'exceeded', unknown: 'unknown' };

  function runningFor(job, target) {
    return list(state.status && state.status.running)
      .find((j) => j && j.job === job && j.target === target && (j.state === 'running' || j.state === 'queued' || !j.state));
  }

  function renderSources() {
    const st = state.status;
    const sources = list(st && st.sources);
    const canBackup = allows('operator');
    if (!st) {
      render('sources-body', h('tr', null, h('td', { colspan: 8, class: 'empty' }, 'Loading…')));
      return;
    }
    if (!sources.length) {
      render('sources-body', h('tr', null, h('td', { colspan: 8, class: 'empty' }, 'No sources configured.')));
      return;
    }
    render('sources-body', sources.map((src) => {
      const name = str(src.name);
      const lb = src.last_backup || null;
      const rs = ['ok', 'warn', 'exceeded', 'unknown'].includes(src.rpo_state) ? src.rpo_state : 'unknown';
      const rpo = num(src.rpo_seconds);
      const target = num(src.rpo_target_seconds);
      const rpoText = rpo === null && target === null ? 'unknown'
        : `${fmtDuration(rpo)} / ${target === null ? 'no target' : fmtDuration(target)}`;
      const rpoTitle = `RPO ${RPO_LABEL[rs]}` +
        (rpo !== null ? `: newest recoverable point is ${fmtDuration(rpo)} old` : '') +
        (target !== null ? `, target ${fmtDuration(target)}` : ', no target set') +
        (rpo !== null && target ? ` (${Math.round((rpo / target) * 100)} % of target)` : '') +
        (src.newest_point ? `\nNewest point: ${str(src.newest_point)}` : '');
      const running = runningFor('backup', name);
      const pending = state.pending.has(`backup:${name}`);
      const failed = src.last_result && src.last_result !== 'succeeded' && src.last_result !== 'running';
      const snap = lb && lb.snapshot ? str(lb.snapshot) : '';

      let action = null;
      if (canBackup) {
        const busy = pending || !!running;
        action = h('button', {
          type: 'button', class: 'btn btn-small backup-now', 'data-source': name, disabled: busy,
          title: running ? `Backup running as job #${running.id}` : `Back up ${name} now`,
        }, pending ? 'Queuing…' : running ? 'Running…' : 'Back up now');
      }

      return h('tr', { 'data-key': name, 'data-source': name, class: `rpo-row-${rs}` },
        h('td', null,
          h('div', { class: 'cell-main' }, name),
          src.repository || num(src.snapshots) !== null ? h('div', { class: 'cell-sub' },
            [src.repository ? `→ ${str(src.repository)}` : '',
              num(src.snapshots) !== null ? `${fmtCount(src.snapshots)} snapshot${src.snapshots === 1 ? '' : 's'}` : '']
              .filter(Boolean).join(' · ')) : ''),
        h('td', null, h('span', { class: 'kind' }, str(src.kind) || '—')),
        h('td', { class: 'last-backup' },
          lb && lb.at ? timeEl(lb.at) : h('span', { class: 'muted' }, 'never'),
          failed ? h('div', { class: 'cell-sub text-bad', title: src.last_error ? str(src.last_error) : null }, `last run ${str(src.last_result)}`) : '',
          lb && num(lb.duration_seconds) !== null ? h('div', { class: 'cell-sub' }, `took ${fmtDuration(lb.duration_seconds)}`) : ''),
        h('td', { class: 'snapshot' }, snap ? h('code', { title: snap, class: 'snapshot-id' }, str(lb.short_id) || shortId(snap)) : h('span', { class: 'muted' }, '—')),
        h('td', { class: 'num' }, fmtBytes(lb && lb.size_bytes)),
        h('td', { class: 'num' }, fmtBytes(lb && lb.added_bytes)),
        h('td', null, pill(rpoText, `rpo-${rs}`, rpoTitle)),
        h('td', { class: 'actions' }, action));
    }));
  }

  function progressText(p) {
    if (!p || typeof p !== 'object') return null;
    const parts = [];
    if (num(p.files) !== null) parts.push(`${fmtCount(p.files)} files`);
    if (num(p.bytes) !== null) parts.push(fmtBytes(p.bytes));
    if (num(p.added_bytes) !== null) parts.push(`${fmtBytes(p.added_bytes)} added`);
    return parts.length ? parts.join(' · ') : null;
  }

  function jobTitle(j) {
    return [h('span', { class: 'job-kind' }, str(j.job) || 'job'), ' ', h('strong', null, str(j.target))];
  }

  function jobMeta(j) {
    const bits = [`#${str(j.id)}`];
    if (j.schedule) bits.push(`schedule ${str(j.schedule)}`);
    if (j.trigger) bits.push(str(j.trigger));
    if (j.actor) bits.push(`by ${str(j.actor)}`);
    if (num(j.attempt) !== null && j.attempt > 1) bits.push(`attempt ${j.attempt}`);
    return bits.join(' · ');
  }

  function renderRunning() {
    const st = state.status;
    const running = list(st && st.running);
    if (!st) return render('running', empty('Loading…'));
    if (!running.length) return render('running', empty('No job is running.'));
    const canCancel = allows('operator');
    render('running', running.map((j) => {
      const prog = progressText(j.progress);
      const cancelling = !!(j.progress && j.progress.cancelling);
      const pending = state.pending.has(`cancel:${j.id}`) || cancelling;
      const queued = j.state === 'queued';
      return h('div', { class: 'item', 'data-key': `job-${str(j.id)}`, 'data-job-id': str(j.id) },
        h('div', { class: 'item-row' },
          h('div', { class: 'item-title' }, jobTitle(j), ' ', pill(str(j.state || 'running'), `state-${str(j.state || 'running')}`),
            cancelling ? pill('cancelling', 'pill-warn') : ''),
          canCancel ? h('button', {
            type: 'button', class: 'btn btn-small btn-danger cancel-job', 'data-job-id': str(j.id), disabled: pending,
          }, pending ? 'Cancelling…' : 'Cancel') : ''),
        h('div', { class: 'item-sub' }, jobMeta(j), ' · ',
          queued ? ['queued ', timeEl(j.queued_at)] : ['started ', timeEl(j.started_at || j.queued_at)]),
        h('div', { class: 'progress' }, h('div', { class: queued ? 'progress-bar idle' : 'progress-bar' })),
        h('div', { class: 'item-sub progress-text' }, prog || (queued ? 'waiting for its turn' : 'starting…')));
    }));
  }

  function renderFailures() {
    const st = state.status;
    const fails = list(st && st.recent_failures);
    if (!st) return render('failures', empty('Loading…'));
    if (!fails.length) return render('failures', empty('No recent failures.'));
    render('failures', fails.map((j) => h('div', { class: 'item item-bad', 'data-key': `job-${str(j.id)}`, 'data-job-id': str(j.id) },
      h('div', { class: 'item-row' },
        h('div', { class: 'item-title' }, jobTitle(j), ' ', pill(str(j.state || 'failed'), `state-${str(j.state || 'failed')}`)),
        timeEl(j.ended_at || j.started_at || j.queued_at, 'item-time')),
      h('div', { class: 'item-sub' }, jobMeta(j)),
      j.error ? h('div', { class: 'error-text' }, str(j.error)) : '',
      j.hint ? h('div', { class: 'hint-text' }, h('span', { class: 'hint-label' }, 'Hint'), str(j.hint)) : '')));
  }

  function jobDuration(j) {
    const a = parseTime(j.started_at);
    if (a === null) return null;
    const b = parseTime(j.ended_at);
    if (b === null) return j.state === 'running' ? (Date.now() - a) / 1000 : null;
    return (b - a) / 1000;
  }

  function jobResult(j) {
    if (j.error) {
      return h('span', { class: 'text-bad', title: j.hint ? `Hint: ${str(j.hint)}` : null }, str(j.error));
    }
    const rep = j.report && typeof j.report === 'object' ? j.report : null;
    // A backup's report is the backup itself or holds it under `backup`.
    const r = rep && rep.backup && typeof rep.backup === 'object' ? rep.backup : rep;
    if (r) {
      const snap = r.snapshot_id || r.snapshot || r.id;
      const bits = [];
      if (typeof snap === 'string' && j.job === 'backup') bits.push(h('code', { title: snap }, shortId(snap)));
      const sum = r.summary && typeof r.summary === 'object' ? r.summary : r;
      if (num(sum.total_bytes) !== null) bits.push(` ${fmtBytes(sum.total_bytes)}`);
      if (num(sum.bytes_added) !== null) bits.push(` +${fmtBytes(sum.bytes_added)}`);
      if (typeof rep.result === 'string') bits.push(` ${rep.result}`);
      if (bits.length) return h('span', { class: 'muted' }, bits);
    }
    const prog = progressText(j.progress);
    return prog && j.state === 'running' ? h('span', { class: 'muted' }, prog) : h('span', { class: 'muted' }, '');
  }

  function renderJobs() {
    const jobs = state.jobs;
    if (!jobs) return render('jobs-body', h('tr', null, h('td', { colspan: 9, class: 'empty' }, 'Loading…')));
    if (!jobs.length) return render('jobs-body', h('tr', null, h('td', { colspan: 9, class: 'empty' }, 'No jobs yet.')));
    render('jobs-body', jobs.map((j) => {
      const st = str(j.state) || 'unknown';
      return h('tr', { 'data-key': `job-${str(j.id)}`, 'data-job-id': str(j.id), class: `state-${st}` },
        h('td', { class: 'num muted' }, str(j.id)),
        h('td', null, str(j.job)),
        h('td', { class: 'nowrap' }, h('strong', null, str(j.target))),
        h('td', { class: 'nowrap' }, pill(st, `state-${st}`), num(j.attempt) > 1 ? h('span', { class: 'muted small' }, ` try ${j.attempt}`) : ''),
        h('td', null, str(j.trigger), j.schedule ? h('div', { class: 'cell-sub' }, str(j.schedule)) : ''),
        h('td', null, str(j.actor)),
        h('td', { class: 'nowrap' }, timeEl(j.queued_at)),
        h('td', { class: 'num' }, fmtDuration(jobDuration(j))),
        h('td', { class: 'result-cell' }, jobResult(j)));
    }));
  }

  // The newest report of each drill from GET /drills (newest first or not: sorted here).
  function drillReports() {
    const by = new Map();
    const reports = list(state.drills).filter((r) => r && r.drill)
      .sort((a, b) => (parseTime(b.finished || b.started) || 0) - (parseTime(a.finished || a.started) || 0));
    for (const r of reports) {
      if (!by.has(r.drill)) by.set(r.drill, []);
      by.get(r.drill).push(r);
    }
    return by;
  }

  function sameReport(a, b) {
    if (a.id && b.id) return a.id === b.id;
    return a.started === b.started && a.drill === b.drill;
  }

  // True when a drill report is the run summarised by status.drills[].last.
  function sameRun(last, rep) {
    if (!last) return false;
    const at = parseTime(last.at);
    if (at === null) return true;
    return [rep.finished, rep.started].some((t) => {
      const ms = parseTime(t);
      return ms !== null && Math.abs(ms - at) < 2000;
    });
  }

  function objective(label, actual, target) {
    actual = num(actual);
    target = num(target);
    let cls = 'obj-none';
    let verdict = 'no target';
    if (actual !== null && target !== null) {
      cls = actual <= target ? 'obj-met' : 'obj-missed';
      verdict = actual <= target ? 'met' : 'missed';
    } else if (target !== null) {
      verdict = 'not measured';
    }
    return h('div', { class: ['objective', cls], title: `${label} ${verdict}` },
      h('span', { class: 'obj-label' }, label),
      h('span', { class: 'obj-value' }, fmtDuration(actual)),
      h('span', { class: 'obj-target' }, target === null ? 'no target' : `target ${fmtDuration(target)}`));
  }

  function renderDrills() {
    const st = state.status;
    const reports = drillReports();
    const names = [];
    for (const d of list(st && st.drills)) if (d && d.name && !names.includes(d.name)) names.push(str(d.name));
    for (const n of reports.keys()) if (!names.includes(n)) names.push(n);
    if (!st && !state.drills) return render('drills', empty('Loading…'));
    if (!names.length) return render('drills', empty('No drills configured.'));
    const canRun = allows('operator');
    render('drills', names.map((name) => {
      const sd = list(st && st.drills).find((d) => d && d.name === name) || {};
      // status.drills[].last is either the newest report itself (its `result`, `started`,
      // `failures`, `checks`) or a summary `{at, passed, rto_seconds, rpo_seconds,
      // failed_checks}`; GET /drills adds older reports for the history.
      const lastRaw = sd.last && typeof sd.last === 'object' ? sd.last : null;
      const lastIsReport = !!(lastRaw && typeof lastRaw.result === 'string');
      const history = reports.get(name) || [];
      if (lastIsReport && !history.some((r) => sameReport(r, lastRaw))) history.unshift(lastRaw);
      const rep = lastIsReport ? lastRaw : history.find((r) => sameRun(lastRaw, r)) || (lastRaw ? null : history[0] || null);
      let result = null;
      if (rep && rep.result) result = str(rep.result);
      else if (lastRaw && typeof lastRaw.passed === 'boolean') result = lastRaw.passed ? 'passed' : 'failed';
      const at = rep ? rep.finished || rep.started : lastRaw && lastRaw.at;
      const failed = [];
      if (rep) {
        for (const f of list(rep.failures)) failed.push(str(f));
        if (!failed.length) {
          for (const c of list(rep.checks)) {
            if (c && c.result === 'failed') failed.push(c.detail ? `${str(c.name || c.kind)}: ${str(c.detail)}` : str(c.name || c.kind));
          }
        }
        if (rep.error && !failed.includes(rep.error)) failed.unshift(str(rep.error));
      } else {
        for (const c of list(lastRaw && lastRaw.failed_checks)) {
          failed.push(typeof c === 'string' ? c : str(c && (c.detail ? `${str(c.name || c.kind)}: ${str(c.detail)}` : c.name || c.kind)));
        }
      }
      const pick = (field) => {
        for (const o of [rep, lastRaw]) if (o && num(o[field]) !== null) return o[field];
        return null;
      };
      const rto = pick('rto_seconds');
      const rpo = pick('rpo_seconds');
      const rtoTarget = num(sd.rto_target_seconds) ?? pick('rto_target_seconds');
      const rpoTarget = num(sd.rpo_target_seconds) ?? pick('rpo_target_seconds');
      const source = sd.source || (rep && rep.source);
      const running = runningFor('drill', name);
      const pending = state.pending.has(`drill:${name}`);
      const resultCls = result === 'passed' ? 'drill-passed' : result ? 'drill-failed' : 'drill-none';

      return h('div', { class: ['item', 'drill', resultCls], 'data-key': `drill-${name}`, 'data-drill': name },
        h('div', { class: 'item-row' },
          h('div', { class: 'item-title' },
            h('strong', null, name),
            source ? h('span', { class: 'muted' }, ` · ${str(source)}`) : '',
            ' ',
            result ? pill(result, result === 'passed' ? 'pill-ok' : 'pill-bad') : pill('never run', 'pill-muted')),
          canRun ? h('button', {
            type: 'button', class: 'btn btn-small run-drill', 'data-drill': name, disabled: pending || !!running,
          }, pending ? 'Starting…' : running ? 'Running…' : 'Run drill') : ''),
        h('div', { class: 'item-sub' },
          at ? ['last run ', timeEl(at)] : 'no report yet',
          rep && rep.snapshot ? [' · restored ', h('code', { title: str(rep.snapshot) }, shortId(str(rep.snapshot)))] : '',
          history.length > 1 ? [' · ', h('span', { class: 'history', title: 'recent results, newest first' },
            history.slice(0, 10).map((r) => h('span', {
              class: ['dot', r.result === 'passed' ? 'dot-ok' : 'dot-bad'],
              title: `${str(r.result)} ${fmtAbs(r.finished || r.started)}`,
            })))] : ''),
        result ? h('div', { class: 'objectives' }, objective('RTO', rto, rtoTarget), objective('RPO', rpo, rpoTarget)) : '',
        failed.length ? h('ul', { class: 'failed-checks' }, failed.map((f) => h('li', null, f))) : '');
    }));
  }

  function renderRepositories() {
    const st = state.status;
    const repos = list(st && st.repositories);
    if (!st) return render('repositories', empty('Loading…'));
    if (!repos.length) return render('repositories', empty('No repositories.'));
    render('repositories', repos.map((r) => {
      const reachable = r.reachable !== false;
      const check = r.last_check || null;
      return h('div', { class: 'item repo', 'data-key': `repo-${str(r.name)}`, 'data-repository': str(r.name) },
        h('div', { class: 'item-row' },
          h('div', { class: 'item-title' },
            h('span', { class: ['status-dot', reachable ? 'dot-ok' : 'dot-bad'], title: reachable ? 'reachable' : 'unreachable' }),
            h('strong', null, str(r.name)),
            r.mode && r.mode !== 'normal' ? [' ', pill(str(r.mode), 'pill-warn')] : ''),
          reachable
            ? h('span', { class: 'muted small' }, `${fmtBytes(r.size_bytes)} · ${num(r.snapshots) === null ? '—' : fmtCount(r.snapshots)} snapshot${r.snapshots === 1 ? '' : 's'}`)
            : h('span', { class: 'small text-bad' }, 'unreachable')),
        h('div', { class: 'item-sub' },
          check && check.at ? ['checked ', timeEl(check.at), check.ok === false
            ? h('span', { class: 'text-bad' }, ` · ${fmtCount(check.errors)} errors`)
            : h('span', { class: 'text-ok' }, ' · ok')] : 'never checked'),
        r.error ? h('div', { class: 'error-text' }, str(r.error)) : '');
    }));
  }

  function renderSchedules() {
    const st = state.status;
    const sch = list(st && st.schedules).slice()
      .sort((a, b) => (parseTime(a && a.next_run) || Infinity) - (parseTime(b && b.next_run) || Infinity));
    if (!st) return render('schedules', empty('Loading…'));
    if (!sch.length) return render('schedules', empty('No schedules.'));
    render('schedules', h('table', { class: 'table compact' }, h('tbody', null, sch.map((x) => h('tr', { 'data-key': `sch-${str(x.name)}` },
      h('td', null, h('strong', null, str(x.name))),
      h('td', { class: 'muted' }, `${str(x.job)} ${str(x.target)}`),
      h('td', { class: 'num' }, x.next_run ? timeEl(x.next_run) : h('span', { class: 'muted' }, '—')))))));
  }

  function renderJournal() {
    if (state.journalError && !state.journal) {
      return render('journal-body', h('tr', null, h('td', { colspan: 6, class: 'empty text-bad' }, state.journalError)));
    }
    const recs = state.journal;
    if (!recs) return render('journal-body', h('tr', null, h('td', { colspan: 6, class: 'empty' }, 'Loading…')));
    if (!recs.length) return render('journal-body', h('tr', null, h('td', { colspan: 6, class: 'empty' }, 'The journal is empty.')));
    const sorted = recs.filter((r) => r && typeof r === 'object').slice()
      .sort((a, b) => (num(b.seq) || 0) - (num(a.seq) || 0));
    render('journal-body', sorted.map((r) => {
      const res = r.result && typeof r.result === 'object' ? r.result : { status: str(r.result) };
      const status = str(res.status) || '—';
      const args = r.arguments && typeof r.arguments === 'object'
        ? Object.entries(r.arguments).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`) : [];
      const snaps = list(r.snapshots).map((x) => shortId(str(x))).filter(Boolean);
      const cls = status === 'ok' ? 'pill-ok' : status === 'cancelled' ? 'pill-muted' : 'pill-bad';
      return h('tr', { 'data-key': `seq-${str(r.seq)}`, 'data-seq': str(r.seq) },
        h('td', { class: 'num muted' }, str(r.seq)),
        h('td', { class: 'nowrap' }, timeEl(r.time)),
        h('td', null, h('code', null, str(r.operation))),
        h('td', null, pill(status, cls)),
        h('td', { class: 'details' },
          res.message ? h('div', { class: status === 'ok' ? '' : 'text-bad' }, str(res.message)) : '',
          args.length ? h('div', { class: 'cell-sub mono' }, args.join('  ')) : '',
          snaps.length ? h('div', { class: 'cell-sub mono' }, `snapshots ${snaps.join(', ')}`) : ''),
        h('td', { class: 'muted' }, [str(r.user), r.host ? `@${str(r.host)}` : ''].join('')));
    }));
  }

  // ---------------------------------------------------------------- timelines

  function snapSize(x) {
    const sum = x && x.summary && typeof x.summary === 'object' ? x.summary : {};
    return num(sum.total_bytes) ?? num(sum.total_size) ?? num(x && x.size_bytes) ?? num(x && x.stream && x.stream.size);
  }

  function snapAdded(x) {
    const sum = x && x.summary && typeof x.summary === 'object' ? x.summary : {};
    return num(sum.bytes_added) ?? num(sum.data_added) ?? num(x && x.added_bytes);
  }

  // Round numbers for the y axis: 1, 2, 5 × 1024^k.
  function niceMax(v) {
    if (!(v > 0)) return 1;
    let unit = 1;
    while (v / unit >= 1024) unit *= 1024;
    const x = v / unit;
    const steps = [1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 40, 50, 64, 80, 100, 128, 200, 256, 400, 512, 800, 1024];
    return (steps.find((s) => s >= x) || 1024) * unit;
  }

  function fmtDay(ms) {
    const d = new Date(ms);
    return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function chart(name, snaps) {
    const W = 400;
    const H = 150;
    const M = { l: 58, r: 10, t: 10, b: 24 };
    const pw = W - M.l - M.r;
    const ph = H - M.t - M.b;
    const pts = snaps.map((x) => ({ t: parseTime(x.time), size: snapSize(x), added: snapAdded(x), x }))
      .filter((p) => p.t !== null).sort((a, b) => a.t - b.t).slice(-60);
    const maxSize = niceMax(Math.max(0, ...pts.map((p) => Math.max(p.size || 0, p.added || 0))));
    const t0 = pts.length ? pts[0].t : 0;
    const t1 = pts.length ? pts[pts.length - 1].t : 0;
    const span = Math.max(t1 - t0, 1);
    const bw = Math.max(3, Math.min(18, (pw / Math.max(pts.length, 1)) * 0.6));
    const xOf = (t) => (pts.length < 2 ? M.l + pw / 2 : M.l + bw / 2 + ((t - t0) / span) * (pw - bw));
    const yOf = (v) => M.t + ph - (Math.max(v, 0) / maxSize) * ph;

    const grid = [0, 0.5, 1].map((f) => {
      const y = M.t + ph - f * ph;
      return s('g', { class: 'gridline' },
        s('line', { x1: M.l, x2: W - M.r, y1: y, y2: y }),
        s('text', { x: M.l - 6, y: y + 3.5, 'text-anchor': 'end', class: 'axis' }, f === 0 ? '0' : fmtBytes(maxSize * f)));
    });
    const bars = pts.map((p) => {
      const x = xOf(p.t) - bw / 2;
      const tip = `${shortId(str(p.x.short_id || p.x.id))}  ${fmtAbs(p.x.time)}\nsize ${fmtBytes(p.size)}` +
        (p.added !== null ? `, added ${fmtBytes(p.added)}` : '');
      const size = p.size || 0;
      return s('g', { class: 'bar', 'data-snapshot': str(p.x.id || p.x.short_id) },
        s('title', null, tip),
        s('rect', { class: 'bar-size', x: x.toFixed(1), y: yOf(size).toFixed(1), width: bw.toFixed(1),
          height: Math.max(size > 0 ? 1 : 0, M.t + ph - yOf(size)).toFixed(1), rx: 1.5 }),
        p.added !== null ? s('rect', { class: 'bar-added', x: x.toFixed(1), y: yOf(p.added).toFixed(1), width: bw.toFixed(1),
          height: Math.max(p.added > 0 ? 1 : 0, M.t + ph - yOf(p.added)).toFixed(1), rx: 1.5 }) : null);
    });
    const xLabels = pts.length
      ? (pts.length === 1 || t1 === t0
        ? [s('text', { x: xOf(t0), y: H - 6, 'text-anchor': 'middle', class: 'axis' }, fmtDay(t0))]
        : [s('text', { x: M.l, y: H - 6, 'text-anchor': 'start', class: 'axis' }, fmtDay(t0)),
          s('text', { x: W - M.r, y: H - 6, 'text-anchor': 'end', class: 'axis' }, fmtDay(t1))])
      : [];
    return s('svg', {
      viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
      'aria-label': `Backups of ${name}: ${pts.length} snapshots, sizes up to ${fmtBytes(maxSize)}`,
    },
    grid,
    s('line', { class: 'baseline', x1: M.l, x2: W - M.r, y1: M.t + ph, y2: M.t + ph }),
    bars,
    xLabels);
  }

  function renderTimelines() {
    const names = sourceNames();
    if (!state.status) return render('timelines', empty('Loading…'));
    if (!names.length) return render('timelines', empty('No sources configured.'));
    render('timelines', names.map((name) => {
      const entry = state.snapshots.get(name);
      let body;
      let meta = '';
      if (!entry || (!entry.list && !entry.error)) body = empty('Loading…');
      else if (entry.error && !entry.list) body = h('p', { class: 'empty text-bad' }, entry.error);
      else if (!entry.list.length) body = h('div', { class: 'chart-empty' }, 'No backups yet.');
      else {
        body = chart(name, entry.list);
        const sizes = entry.list.map(snapSize).filter((v) => v !== null);
        const total = entry.list.map(snapAdded).filter((v) => v !== null).reduce((a, b) => a + b, 0);
        meta = `${entry.list.length} snapshot${entry.list.length === 1 ? '' : 's'}` +
          (sizes.length ? ` · latest ${fmtBytes(sizes[sizes.length - 1])}` : '') +
          (total ? ` · ${fmtBytes(total)} added in all` : '');
        if (entry.list.length > 60) meta += ' · showing the last 60';
      }
      return h('div', { class: 'timeline', 'data-key': `tl-${name}`, 'data-timeline': name },
        h('div', { class: 'timeline-head' }, h('strong', null, name), h('span', { class: 'muted small' }, meta)),
        body);
    }));
  }

  // ---------------------------------------------------------------- start

  function init() {
    $('login-form').addEventListener('submit', onLogin);
    $('logout').addEventListener('click', () => signOut());
    document.addEventListener('click', onClick);
    // Relative times stay current between refreshes even when the daemon is slow.
    setInterval(() => {
      if (state.token && state.status) {
        renderHeader();
      }
    }, 5000);
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) startDashboard(token, null);
    else showLogin();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
}());
