import { render } from 'preact';

function App() {
  return <main><h1>Logship console</h1></main>;
}

render(<App />, document.getElementById('app'));
