/* Harmony-Bench leaderboard site: sortable tables, filters, and players kept in step.
   Data comes from the JSON block #site-data; every text from it is set with textContent. */
(function () {
  'use strict';

  // -- sortable tables: a button in each heading of the last header row ---------------------
  function cellKey(cell) {
    var text = (cell ? cell.textContent : '').trim();
    var num = parseFloat(text);
    return isNaN(num) ? {num: null, text: text.toLowerCase()} : {num: num, text: text};
  }

  function sortRows(table, col, dir) {
    var body = table.tBodies[0];
    if (!body) { return; }
    var rows = Array.prototype.slice.call(body.rows);
    var numeric = rows.some(function (r) { return cellKey(r.children[col]).num !== null; });
    rows.sort(function (a, b) {
      var x = cellKey(a.children[col]), y = cellKey(b.children[col]);
      if (numeric) {  // rows without a number go last whichever the direction
        if (x.num === null || y.num === null) { return (x.num === null) - (y.num === null); }
        return dir * (x.num - y.num);
      }
      return dir * x.text.localeCompare(y.text);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  function makeSortable(table) {
    var head = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
    if (!head) { return; }
    Array.prototype.forEach.call(head.cells, function (th, col) {
      if (th.querySelector('button.sort')) { return; }
      var button = document.createElement('button');
      button.type = 'button';
      button.className = 'sort';
      while (th.firstChild) { button.appendChild(th.firstChild); }
      th.appendChild(button);
      button.addEventListener('click', function () {
        var dir = table.dataset.sortCol === String(col) && table.dataset.sortDir === '1' ? -1 : 1;
        table.dataset.sortCol = String(col);
        table.dataset.sortDir = String(dir);
        Array.prototype.forEach.call(head.cells, function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
        sortRows(table, col, dir);
      });
    });
    if (table.dataset.sortCol) { sortRows(table, +table.dataset.sortCol, +table.dataset.sortDir); }
  }

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (cls) { node.className = cls; }
    return node;
  }

  // -- index: filters, this suite's board, the case list --------------------------------------
  function rng(seed) {  // mulberry32: a seeded bootstrap gives the same interval on every load
    return function () {
      seed = (seed + 0x6D2B79F5) | 0;
      var t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function summary(values) {
    var n = values.length;
    if (!n) { return null; }
    var mean = values.reduce(function (a, b) { return a + b; }, 0) / n;
    if (n < 2) { return {mean: mean, n: n, ci: null}; }
    var draw = rng(0), means = [];
    for (var b = 0; b < 1000; b++) {
      var s = 0;
      for (var i = 0; i < n; i++) { s += values[Math.floor(draw() * n)]; }
      means.push(s / n);
    }
    means.sort(function (a, c) { return a - c; });
    return {mean: mean, n: n, ci: [means[24], means[974]]};
  }

  function index(data) {
    var selects = ['subset', 'tag', 'language'].map(function (k) { return document.getElementById('f-' + k); });
    var wanted = new URLSearchParams(location.hash.slice(1));
    selects.forEach(function (s) {
      if (wanted.has(s.name) && Array.prototype.some.call(s.options, function (o) { return o.value === wanted.get(s.name); })) {
        s.value = wanted.get(s.name);
      }
      s.addEventListener('change', apply);
    });

    function keep(c) {
      var f = {subset: selects[0].value, tag: selects[1].value, language: selects[2].value};
      return (!f.subset || c.subset === f.subset) && (!f.tag || c.tags.indexOf(f.tag) >= 0) &&
             (!f.language || c.language === f.language);
    }

    function showScopes() {
      var subset = selects[0].value, language = selects[2].value;
      var scope = language === 'zh' ? 'zh' : subset;
      document.querySelectorAll('#paper .scope').forEach(function (div) {
        div.hidden = !!scope && div.dataset.scope !== scope;
      });
    }

    function board(shown) {
      var table = document.getElementById('board-table');
      table.textContent = '';
      var head = table.createTHead().insertRow();
      head.appendChild(el('th', 'Run'));
      data.columns.forEach(function (c) {
        var th = el('th', c.name + (c.direction === 'higher' ? ' ↑' : ' ↓'));
        if (c.official) { th.appendChild(el('span', 'paper protocol', 'badge official')); }
        head.appendChild(th);
      });
      var body = table.createTBody();
      data.runs.forEach(function (run, r) {
        var row = body.insertRow();
        var th = el('th', run.label);
        run.flags.forEach(function (f) { th.appendChild(el('span', '⚠ ' + f, 'flag')); });
        row.appendChild(th);
        data.columns.forEach(function (c, k) {
          var td = row.insertCell();
          var cell = data.values.filter(function (v) { return v[0] === r && v[1] === k; })[0];
          var vals = cell ? cell[2].filter(function (p) { return shown[p[0]]; }).map(function (p) { return p[1]; }) : [];
          var s = summary(vals);
          if (!s) { td.appendChild(el('span', '–', 'none')); td.title = 'no case shown got a number'; return; }
          td.appendChild(el('span', s.mean.toFixed(3), 'mean'));
          td.appendChild(el('div', (s.ci ? '[' + s.ci[0].toFixed(3) + ', ' + s.ci[1].toFixed(3) + '] ' : '') +
                                   'n=' + s.n, 'ci'));
        });
      });
      makeSortable(table);
    }

    function caseList(shown) {
      var table = document.getElementById('case-table');
      table.textContent = '';
      var head = table.createTHead().insertRow();
      ['Case', 'Subset', 'Language', 'Tags', 'Video caption'].forEach(function (h) { head.appendChild(el('th', h)); });
      var body = table.createTBody();
      data.cases.forEach(function (c, i) {
        if (!shown[i]) { return; }
        var row = body.insertRow();
        var link = el('a', c.id);
        link.href = c.href;
        row.insertCell().appendChild(link);
        [c.subset, c.language, c.tags.join(', '), c.caption].forEach(function (t) { row.insertCell().textContent = t; });
      });
      var n = shown.filter(Boolean).length;
      document.getElementById('case-count').textContent = n + ' of ' + data.cases.length + ' cases';
      makeSortable(table);
    }

    function apply() {
      var shown = data.cases.map(keep);
      var params = new URLSearchParams();
      selects.forEach(function (s) { if (s.value) { params.set(s.name, s.value); } });
      history.replaceState(null, '', params.toString() ? '#' + params.toString() : location.pathname);
      showScopes();
      board(shown);
      caseList(shown);
    }

    document.querySelectorAll('table.sortable').forEach(function (t) { if (t.tHead) { makeSortable(t); } });
    document.querySelectorAll('#paper table.paper').forEach(makeSortable);
    document.addEventListener('keydown', function (e) {
      if (e.key === '/' && !/INPUT|SELECT|TEXTAREA/.test(e.target.tagName)) { e.preventDefault(); selects[0].focus(); }
    });
    apply();
  }

  // -- case page: one control for every player --------------------------------------------
  function casePage() {
    var videos = Array.prototype.slice.call(document.querySelectorAll('video.clip'));
    var button = document.getElementById('play'), seek = document.getElementById('seek');
    var clock = document.getElementById('clock');
    var lead = videos[0], playing = false;
    document.querySelectorAll('table.sortable').forEach(makeSortable);
    if (!lead) { button.disabled = seek.disabled = true; return; }

    function longest() {  // the longest clip is the clock, so no player stops the others early
      videos.forEach(function (v) { if ((v.duration || 0) > (lead.duration || 0)) { lead = v; } });
      seek.max = String(lead.duration || 0);
    }

    function show(t) {
      seek.value = String(t);
      clock.textContent = t.toFixed(2) + ' s';
    }

    function setAll(t) {
      videos.forEach(function (v) { v.currentTime = Math.min(t, v.duration || t); });
      show(t);
    }

    function follow() {  // while playing, pull any player that drifts back onto the clock
      if (!playing) { return; }
      var t = lead.currentTime;
      videos.forEach(function (v) {
        if (v !== lead && !v.ended && t < (v.duration || 0) && Math.abs(v.currentTime - t) > 0.04) { v.currentTime = t; }
      });
      show(t);
      requestAnimationFrame(follow);
    }

    function pause() {
      playing = false;
      videos.forEach(function (v) { v.pause(); });
      setAll(lead.currentTime);
      button.textContent = 'Play';
    }

    function play() {
      if (lead.ended) { setAll(0); }
      setAll(lead.currentTime);
      playing = true;
      button.textContent = 'Pause';
      Promise.all(videos.map(function (v) { return v.play(); })).catch(function () { pause(); });
      requestAnimationFrame(follow);
    }

    function toggle() { if (playing) { pause(); } else { play(); } }

    function sound(index) {
      videos.forEach(function (v) { v.muted = String(index) !== v.dataset.index; });
      var radio = document.querySelector('input[name="sound"][value="' + index + '"]');
      if (radio) { radio.checked = true; }
    }

    videos.forEach(function (v) { v.addEventListener('loadedmetadata', longest); });
    longest();
    lead.addEventListener('ended', function () { if (playing) { pause(); } });
    button.addEventListener('click', toggle);
    seek.addEventListener('input', function () { setAll(parseFloat(seek.value)); });
    document.querySelectorAll('input[name="sound"]').forEach(function (r) {
      r.addEventListener('change', function () { sound(r.value); });
    });
    var chosen = document.querySelector('input[name="sound"]:checked');
    sound(chosen ? chosen.value : -1);

    document.addEventListener('keydown', function (e) {
      var tag = e.target.tagName;
      if (e.key === ' ' && tag !== 'BUTTON' && tag !== 'INPUT') { e.preventDefault(); toggle(); }
      else if ((e.key === 'ArrowLeft' || e.key === 'ArrowRight') && tag !== 'INPUT') {
        e.preventDefault();
        var step = (e.shiftKey ? 1 : 0.1) * (e.key === 'ArrowLeft' ? -1 : 1);
        setAll(Math.max(0, Math.min(lead.duration || 0, lead.currentTime + step)));
      }
      else if (e.key === 'Home' && tag !== 'INPUT') { e.preventDefault(); setAll(0); }
      else if (/^[0-9]$/.test(e.key)) { sound(e.key === '0' ? -1 : +e.key - 1); }
      else if (e.key === '[' || e.key === ']') {
        var link = document.getElementById(e.key === '[' ? 'prev' : 'next');
        if (link) { location.href = link.href; }
      }
    });
  }

  var data = document.getElementById('site-data');
  if (document.body.dataset.page === 'index') { index(JSON.parse(data.textContent)); }
  else if (document.body.dataset.page === 'case') { casePage(); }
})();
