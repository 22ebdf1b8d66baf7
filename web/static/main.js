// The page's entry: `?game=skirmish` plays skirmish, anything else arena (the server's default
// game). Each game's module joins (through ticksync.js), draws and exposes `window.ticksync`.
const game = new URLSearchParams(location.search).get('game') === 'skirmish' ? 'skirmish' : 'arena';
document.body.dataset.game = game;
const mod = await import(`./${game}.js`);
mod.start();
