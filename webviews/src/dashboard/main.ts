// The run dashboard's entry point (bundled to dist/webviews/dashboard.js).
import 'uplot/dist/uPlot.min.css';
import '../styles/base.css';
import '../common/elements';
import { connectHost } from '../common/host';
import { DashboardApp } from './app';

const root = document.getElementById('app');
if (root) new DashboardApp(connectHost('dashboard'), root).start();
