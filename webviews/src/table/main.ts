// The experiments table's entry point (bundled to dist/webviews/table.js).
import '../styles/base.css';
import './table.css';
import '../common/elements';
import { connectHost } from '../common/host';
import { TableApp } from './app';

const root = document.getElementById('app');
if (root) new TableApp(connectHost('table'), root).start();
