import {Text} from './components/text.js';
import {Component, type ReactNode} from 'react';

/** A render error becomes one readable line, never a stack trace over the operator's screen. */
export class ErrorBoundary extends Component<
	{children: ReactNode; onError: (error: Error) => void},
	{error: Error | null}
> {
	override state = {error: null as Error | null};

	static getDerivedStateFromError(error: Error) {
		return {error};
	}

	override componentDidCatch(error: Error) {
		this.props.onError(error);
	}

	override render() {
		return this.state.error ? (
			<Text>snapdeck hit an internal error: {this.state.error.message}</Text>
		) : (
			this.props.children
		);
	}
}
