// The study view's entry point (bundled to dist/webviews/study.js).
import '../styles/base.css';
import '../common/elements';
import { connectHost } from '../common/host';
import { StudyApp } from './app';

const root = document.getElementById('app');
if (root) new StudyApp(connectHost('study'), root).start();
