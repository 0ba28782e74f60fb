// The comparison view's entry point (bundled to dist/webviews/compare.js).
import '../styles/base.css';
import '../common/elements';
import { connectHost } from '../common/host';
import { CompareApp } from './app';

const root = document.getElementById('app');
if (root) new CompareApp(connectHost('compare'), root).start();
